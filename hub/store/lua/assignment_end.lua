-- An offered assignment ends: accepted or declined by its unit, expired by the
-- hub (any process: the state check makes the first one win), cancelled by a console.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the assignment's hash. ARGV[1] ctx JSON. ARGV[2] params JSON:
--   assignment, state, reason?, unit? (the unit answering: must be the assignee),
--   and for acceptance: allowed, target, alert_status, alert_note, unit_status, stage
-- Returns {'ok', incident, unit} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local akey = subject[1]
local a = hash_table(akey)
if not a.id or (p.unit and a.unit ~= p.unit) then return fail('not_found', 'no such assignment') end
if a.state ~= OFFERED then return fail('conflict', 'the assignment is ' .. a.state) end
local ikey = K.incident(a.incident)
if p.state == ASSIGNMENT_END.accept then
  if ctx.now > tonumber(a.expires_at) then return fail('conflict', 'the assignment has expired') end
  local current = redis.call('HGET', ikey, 'status')
  if not contains(p.allowed, current) then
    return fail('conflict', 'the incident is ' .. tostring(current))
  end
end
end_assignment(ctx, p.assignment, p.state, p.reason)
if p.state == ASSIGNMENT_END.accept then
  redis.call('HSET', ikey, 'status', p.target, 'unit', a.unit, 'updated_at', ctx.now)
  redis.call('ZREM', KEY.open_queue, a.incident)
  history(ctx, a.incident, 'dispatch', p.target, nil, {unit = a.unit})
  stats_stage(ctx, a.incident, p.stage)
  set_unit_status(ctx, a.unit, p.unit_status)
  emit_incident(ctx, a.incident)
  notify_reporters(ctx, a.incident, p.alert_status, p.alert_note)
else
  emit_incident(ctx, a.incident)  -- back in the queue, without an assignment
end
return done(ctx, {'ok', a.incident, a.unit})
