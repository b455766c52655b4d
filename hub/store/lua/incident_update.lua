-- A console changes an incident: priority, status (acknowledge/close/reject), note.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident's hash. ARGV[1] ctx JSON. ARGV[2] params JSON:
--   incident, note, priority?, scores? (score by reporters for that priority),
--   action?, allowed? (source states), target?, retire?, alert_status?, alert_note?,
--   stage?, outcome? (what the statistics count)
-- Returns {'ok'} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local ikey = subject[1]
local current = incident_status(p.incident)
if not current then return fail('not_found', 'no such incident') end
if p.action and current == p.target then  -- already there: idempotent
  if not p.priority and (not p.note or p.note == '') then return done(ctx, {'ok'}) end
  p.action = nil  -- apply the priority or note alone
elseif p.action then
  if not contains(p.allowed, current) then
    return fail('conflict', 'cannot ' .. p.action .. ' an incident that is ' .. current)
  end
elseif not LIVE[current] then
  return fail('conflict', 'the incident is ' .. current)
end
redis.call('HSET', ikey, 'updated_at', ctx.now)
if p.priority then
  local reporters = tonumber(redis.call('HGET', ikey, 'reporters'))
  redis.call('HSET', ikey, 'priority', p.priority, 'priority_locked', 1,
    'score', p.scores[math.min(reporters, #p.scores)])
  if WAITING[current] then
    redis.call('ZADD', KEY.open_queue, tonumber(redis.call('HGET', ikey, 'score')), p.incident)
  end
end
local status = current
if p.action then
  status = p.target
  redis.call('HSET', ikey, 'status', status)
  if p.retire then
    local asg = redis.call('HGET', ikey, 'assignment')
    if asg then end_assignment(ctx, asg, ASSIGNMENT_END.cancel, 'incident ' .. status) end
    release_unit(ctx, p.incident, current, 'incident ' .. status)
    retire_incident(ctx, p.incident)
  end
end
if p.action then
  stats_stage(ctx, p.incident, p.stage)
  stats_outcome(ctx, p.incident, p.outcome)
end
history(ctx, p.incident, p.action or 'update', status, p.note,
  p.priority and {priority = p.priority} or nil)
emit_incident(ctx, p.incident)
notify_reporters(ctx, p.incident, p.alert_status, p.alert_note)
return done(ctx, {'ok'})
