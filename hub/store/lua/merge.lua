-- A console merges duplicate incidents into one: the sources' alerts and
-- reporters move to the target, whose priority follows its new reporters.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the hashes of `into` and of each of `from`.
-- ARGV[1] ctx JSON. ARGV[2] params JSON:
--   into, from (list; LIVE ones only), ladders {category: ladder},
--   alert_note, outcome (what the statistics count for each source)
-- Returns {'ok'} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local into_key = subject[1]
for _, id in ipairs(p.from) do
  if id == p.into then return fail('bad_request', 'cannot merge an incident into itself') end
end
for _, id in ipairs({p.into, unpack(p.from)}) do
  local status = incident_status(id)
  if not status then return fail('not_found', 'no such incident: ' .. id) end
  if not LIVE[status] then
    return fail('conflict', 'incident ' .. id .. ' is ' .. status)
  end
end
for i, id in ipairs(p.from) do
  local key = subject[i + 1]
  notify_reporters(ctx, id, ALERT_STATUS_FOR[TARGET.merge], p.alert_note)
  local asg = redis.call('HGET', key, 'assignment')
  if asg then end_assignment(ctx, asg, ASSIGNMENT_END.cancel, 'merged into ' .. p.into) end
  release_unit(ctx, id, redis.call('HGET', key, 'status'), 'merged into ' .. p.into)
  for _, alert in ipairs(redis.call('LRANGE', K.incident_alerts(id), 0, -1)) do
    redis.call('RPUSH', K.incident_alerts(p.into), alert)
    redis.call('HSET', K.alert(alert), 'incident', p.into)
  end
  local into_reporters = K.incident_reporters(p.into)
  redis.call('SUNIONSTORE', into_reporters, into_reporters, K.incident_reporters(id))
  redis.call('HINCRBY', into_key, 'reports', tonumber(redis.call('HGET', key, 'reports')))
  redis.call('HSET', key, 'status', TARGET.merge, 'merged_into', p.into, 'updated_at', ctx.now)
  retire_incident(ctx, id)
  stats_outcome(ctx, id, p.outcome)
  history(ctx, id, 'merge', TARGET.merge, nil, {into = p.into})
  emit_incident(ctx, id)
end
redis.call('HSET', into_key, 'updated_at', ctx.now)
reprioritise(ctx, p.into, p.ladders[redis.call('HGET', into_key, 'category')])
history(ctx, p.into, 'merge', redis.call('HGET', into_key, 'status'), nil, {from = p.from})
emit_incident(ctx, p.into)
return done(ctx, {'ok'})
