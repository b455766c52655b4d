-- A neighbour's "me too" on a published incident: a distinct report of it (raising
-- its priority as any corroboration does), without a second incident.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident's hash, the citizen's alert rate
-- zset, and the statistics day's hash when stats_day is given. ARGV[1] ctx JSON.
-- ARGV[2] params JSON: incident (LIVE), citizen, ladders {category: ladder}, rate_n,
--   rate_window_ms, stats_day, stats_how (the report's local day and hour of week)
-- Returns {'ok', alert, incident} or {'err', code, message, retry_after_s?}.
local ctx, p, earlier, subject = lifecycle_start()
local rate_key = subject[2]
if earlier then return earlier end
local ikey = subject[1]
local status = incident_status(p.incident)
-- An unpublished incident is "not found": a neighbour knows only what was published.
if not status or redis.call('HGET', ikey, 'published') ~= '1' then
  return fail('not_found', 'no such published incident')
end
if not LIVE[status] then return fail('conflict', 'the incident is ' .. status) end
if redis.call('SISMEMBER', K.incident_reporters(p.incident), p.citizen) == 1 then
  return fail('conflict', 'you reported this incident already')
end
if p.rate_n > 0 then  -- the citizen's alert limit: a "me too" is a report
  redis.call('ZREMRANGEBYSCORE', rate_key, '-inf', ctx.now - p.rate_window_ms)
  if redis.call('ZCARD', rate_key) >= p.rate_n then
    local oldest = redis.call('ZRANGE', rate_key, 0, 0, 'WITHSCORES')
    local wait = (tonumber(oldest[2]) + p.rate_window_ms - ctx.now) / 1000
    return {'err', 'rate_limited', 'too many reports; try again later', tostring(wait)}
  end
end
local h = hash_table(ikey)
local alert = 'al' .. redis.call('HINCRBY', KEY.seq, 'alert', 1)
redis.call('HSET', K.alert(alert), 'id', alert, 'citizen', p.citizen,
  'ref', ctx.ref_key or '', 'category', h.category, 'cell', h.st_area, 'text', '',
  'at', ctx.now, 'incident', p.incident, 'status', ALERT_RECEIVED, 'source', 'neighbour')
redis.call('RPUSH', K.incident_alerts(p.incident), alert)
redis.call('SADD', K.incident_reporters(p.incident), p.citizen)
redis.call('HINCRBY', ikey, 'reports', 1)
redis.call('HSET', ikey, 'updated_at', ctx.now, 'last_report_at', ctx.now)
if p.rate_n > 0 then
  redis.call('ZADD', rate_key, ctx.now, alert)
  redis.call('PEXPIRE', rate_key, p.rate_window_ms)
end
reprioritise(ctx, p.incident, p.ladders[h.category])
history(ctx, p.incident, 'corroborate', status, nil, {alert = alert})
if ctx.stats and p.stats_day then
  stats_add(ctx, p.stats_day, 'r|' .. h.category .. '|' .. h.st_area .. '|' .. p.stats_how)
end
emit_incident(ctx, p.incident)
return done(ctx, {'ok', alert, p.incident})
