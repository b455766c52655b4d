-- A console (or auto-dispatch) offers an incident to a unit, with a deadline.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident's hash, the unit's hash.
-- ARGV[1] ctx JSON. ARGV[2] params JSON:
--   incident, unit, timeout_ms, allowed (states an incident may be offered in)
-- Returns {'ok', assignment, expires_at} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local ikey = subject[1]
local current = incident_status(p.incident)
if not current then return fail('not_found', 'no such incident') end
if not contains(p.allowed, current) then
  return fail('conflict', 'cannot assign an incident that is ' .. current)
end
if redis.call('SISMEMBER', KEY.units, p.unit) == 0 then
  return fail('not_found', 'no such unit')
end
local previous = redis.call('HGET', ikey, 'assignment')
if previous and p.only_if_unassigned then
  if redis.call('HGET', K.assignment(previous), 'state') == OFFERED then
    return fail('conflict', 'an offer is already pending')
  end
end
if previous then end_assignment(ctx, previous, ASSIGNMENT_END.cancel, 'reassigned') end
local asg = 'as' .. redis.call('HINCRBY', KEY.seq, 'assignment', 1)
local expires_at = ctx.now + p.timeout_ms
redis.call('HSET', K.assignment(asg), 'id', asg, 'incident', p.incident,
  'unit', p.unit, 'state', OFFERED, 'created_at', ctx.now, 'expires_at', expires_at,
  'by', ctx.by)
redis.call('ZADD', KEY.deadlines, expires_at, asg)
redis.call('HSET', ikey, 'assignment', asg, 'updated_at', ctx.now)
local view = incident_view(p.incident)
send_personal(ctx, 'unit', p.unit,
  {type = 'assignment', assignment = asg, incident = view, expires_at = expires_at})
emit(ctx.events, ctx.maxlen, 'assignment.state', nil, nil,
  offer_message(asg, p.incident, p.unit, ctx.now, expires_at))
history(ctx, p.incident, 'assignment.offered', current, nil, {assignment = asg, unit = p.unit})
emit_incident(ctx, p.incident)
return done(ctx, {'ok', asg, tostring(expires_at)})
