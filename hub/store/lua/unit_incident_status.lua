-- The assigned unit reports `on_scene` or `resolved`.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident's hash, the unit's hash.
-- ARGV[1] ctx JSON. ARGV[2] params JSON:
--   incident, unit, action, allowed, target, retire, note, alert_status, alert_note, unit_status,
--   stage, outcome
-- Returns {'ok'} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local ikey = subject[1]
local h = redis.call('HMGET', ikey, 'status', 'unit')
if not h[1] or not incident_status(p.incident) then
  return fail('not_found', 'no such incident')
end
if h[2] ~= p.unit then return fail('forbidden', 'this incident is not assigned to you') end
if h[1] == p.target then return done(ctx, {'ok'}) end
if not contains(p.allowed, h[1]) then
  return fail('conflict', 'cannot report ' .. p.action .. ' on an incident that is ' .. h[1])
end
redis.call('HSET', ikey, 'status', p.target, 'updated_at', ctx.now)
stats_stage(ctx, p.incident, p.stage)
stats_outcome(ctx, p.incident, p.outcome)
if p.retire then retire_incident(ctx, p.incident) end
history(ctx, p.incident, p.action, p.target, p.note, {unit = p.unit})
set_unit_status(ctx, p.unit, p.unit_status)
emit_incident(ctx, p.incident)
notify_reporters(ctx, p.incident, p.alert_status, p.alert_note)
return done(ctx, {'ok'})
