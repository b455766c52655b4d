-- A citizen withdraws its alert. The incident loses a report (and a reporter if
-- it was that citizen's only one); an incident left without reports closes.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the alert's hash. ARGV[1] ctx JSON. ARGV[2] params JSON:
--   alert, citizen, ladders {category: ladder}, note (the citizen's), final (terminal
--   alert statuses), close_note, outcome (what the statistics count when it closes)
-- Returns {'ok', incident} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local akey = subject[1]
local a = hash_table(akey)
-- Another citizen's alert is "not found": existence is not revealed.
if not a.id or a.citizen ~= p.citizen then return fail('not_found', 'no such alert') end
if contains(p.final, a.status) then return fail('conflict', 'the alert is ' .. a.status) end
redis.call('HSET', akey, 'status', ALERT_WITHDRAWN)
send_personal(ctx, 'citizen', p.citizen,
  {type = 'alert.status', alert = p.alert, status = ALERT_WITHDRAWN, at = ctx.now, note = p.note})
local id = a.incident
local ikey = K.incident(id)
local status = redis.call('HGET', ikey, 'status')
if not status or not LIVE[status] then return done(ctx, {'ok', id}) end
redis.call('LREM', K.incident_alerts(id), 0, p.alert)
redis.call('HINCRBY', ikey, 'reports', -1)
local still = false
for _, other in ipairs(redis.call('LRANGE', K.incident_alerts(id), 0, -1)) do
  local o = redis.call('HMGET', K.alert(other), 'citizen', 'status')
  if o[1] == p.citizen and o[2] ~= ALERT_WITHDRAWN then still = true end
end
if not still then redis.call('SREM', K.incident_reporters(id), p.citizen) end
redis.call('HSET', ikey, 'updated_at', ctx.now)
history(ctx, id, 'alert.cancel', status, nil, {alert = p.alert})
-- Withdrawing cannot stand a patrol down: once dispatched, the incident stays
-- live (the operator decides), and its trail says the reporters withdrew.
if redis.call('SCARD', K.incident_reporters(id)) == 0 and WAITING[status] then
  redis.call('HSET', ikey, 'status', TARGET.close)
  local asg = redis.call('HGET', ikey, 'assignment')
  if asg then end_assignment(ctx, asg, ASSIGNMENT_END.cancel, 'withdrawn by its reporter') end
  retire_incident(ctx, id)
  stats_outcome(ctx, id, p.outcome)
  history(ctx, id, 'close', TARGET.close, p.close_note)
else
  reprioritise(ctx, id, p.ladders[redis.call('HGET', ikey, 'category')])
end
emit_incident(ctx, id)
return done(ctx, {'ok', id})
