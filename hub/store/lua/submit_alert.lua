-- Store a citizen's alert, group it into an incident and emit the incident event,
-- atomically: no reader ever sees the alert without its event, or a gap.
--
-- KEYS[1] seq hash        KEYS[2] idempotency key   KEYS[3] citizen rate zset
-- KEYS[4] events stream   KEYS[5] open queue zset   KEYS[6] channel rate zset
-- KEYS[7] request index zset (Open311)   KEYS[8] live zset   KEYS[9] published zset
-- KEYS[10 .. 9+n] the n candidate cell zsets, nearest first (KEYS[10] = own cell),
-- then, when statistics are kept, the day's statistics hash and the recurrence zset
-- ARGV: 1 prefix, 2 citizen, 3 ref, 4 category, 5 lat, 6 lon, 7 cell, 8 text,
--       9 accuracy_m ('' if none), 10 now_ms, 11 group_window_ms, 12 rate_n (0 = off),
--       13 rate_window_ms, 14 idem_ttl_s, 15 stream_maxlen, 16 ladder JSON [[prio, score], ...],
--       17 channel rate_n (0 = off: a citizen's own app), 18 channel rate_window_ms,
--       19 index retention_ms (0 = not indexed), 20 extra alert fields JSON {name: value},
--       21 statistics JSON {day, how, area, ttl_s, recurrence_ms, publish} ({} = none kept):
--          the alert's stamp (hub.core.stats.Stamp) and how long aggregates live,
--       22 n (the number of candidate cells)
-- Returns {'dup', alert, incident, at} | {'rate', retry_after_ms, 'citizen'|'channel'}
--       | {'ok', alert, incident, offset, event JSON}
local citizen, ref, category = ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[10])
K.prefix = ARGV[1]
KEY.live, KEY.published = KEYS[8], KEYS[9]
local last_cell = 9 + tonumber(ARGV[22])

-- 1. Idempotency first: a re-sent ref is answered even when over the rate limit.
local existing = redis.call('GET', KEYS[2])
if existing then
  local a = redis.call('HMGET', K.alert(existing), 'incident', 'at')
  return {'dup', existing, a[1], a[2]}
end

-- 2. Sliding-window rate limits: per citizen, and per channel (an Open311 partner
-- posts for many people: its whole flow is bounded too). Both pass before either
-- is marked, so a refused alert spends nothing.
local function over(key, n, window)
  if n <= 0 then return nil end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < n then return nil end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
local rate_n, rate_window = tonumber(ARGV[12]), tonumber(ARGV[13])
local channel_n, channel_window = tonumber(ARGV[17]), tonumber(ARGV[18])
local wait = over(KEYS[3], rate_n, rate_window)
if wait then return {'rate', wait, 'citizen'} end
wait = over(KEYS[6], channel_n, channel_window)
if wait then return {'rate', wait, 'channel'} end

-- 3. Grouping: the nearest open incident of the same category reported recently.
-- A candidate whose member or hash is unusable (corrupt data) is passed over:
-- the alert opens a new incident rather than failing.
local since = now - tonumber(ARGV[11])
local incident = nil
for i = 10, last_cell do
  local members = redis.pcall('ZREVRANGEBYSCORE', KEYS[i], '+inf', since)
  if members.err then members = {} end
  for _, m in ipairs(members) do
    local sep = string.find(m, '|', 1, true)
    if sep and string.sub(m, 1, sep - 1) == category then
      local candidate = string.sub(m, sep + 1)
      if incident_view(candidate) then incident = candidate; break end
    end
  end
  if incident then break end
end

local ladder = cjson.decode(ARGV[16])
local stats = cjson.decode(ARGV[21])
local alert = 'al' .. redis.call('HINCRBY', KEYS[1], 'alert', 1)
local text = ARGV[8]
local ikey

if incident then
  ikey = K.incident(incident)
  local reporters = tonumber(redis.call('HGET', ikey, 'reporters'))
  if redis.call('SADD', K.incident_reporters(incident), citizen) == 1 then reporters = reporters + 1 end
  redis.call('HINCRBY', ikey, 'reports', 1)
  local step = ladder[math.min(reporters, #ladder)]
  local fields = {'reporters', reporters, 'updated_at', now, 'last_report_at', now}
  if redis.call('HGET', ikey, 'priority_locked') ~= '1' then
    table.insert(fields, 'priority'); table.insert(fields, step[1])
    table.insert(fields, 'score'); table.insert(fields, step[2])
  end
  if text ~= '' then table.insert(fields, 'text'); table.insert(fields, text) end
  redis.call('HSET', ikey, unpack(fields))
  local icell = redis.call('HGET', ikey, 'cell')
  redis.call('ZADD', K.cell(icell), now, category .. '|' .. incident)
else
  incident = 'in' .. redis.call('HINCRBY', KEYS[1], 'incident', 1)
  ikey = K.incident(incident)
  redis.call('SADD', K.incident_reporters(incident), citizen)
  redis.call('HSET', ikey, 'id', incident, 'category', category, 'priority', ladder[1][1],
    'base_priority', ladder[1][1], 'score', ladder[1][2], 'cell', ARGV[7], 'lat', ARGV[5],
    'lon', ARGV[6], 'status', INITIAL, 'reports', 1, 'reporters', 1, 'text', text,
    'opened_at', now, 'updated_at', now, 'last_report_at', now)
  redis.call('ZADD', KEYS[10], now, category .. '|' .. incident)
  if stats.day then
    redis.call('HSET', ikey, 'st_day', stats.day, 'st_how', stats.how, 'st_area', stats.area)
    -- The same category in the same coarse area within the window: "4th noise
    -- incident in this area in 7 days" (ids of incidents only, no person).
    local rkey = KEYS[last_cell + 2]
    redis.call('ZREMRANGEBYSCORE', rkey, '-inf', now - stats.recurrence_ms)
    redis.call('ZADD', rkey, now, incident)
    redis.call('PEXPIRE', rkey, stats.recurrence_ms)
    local count = redis.call('ZCARD', rkey)
    if count >= 2 then
      redis.call('HSET', ikey, 'recurrence', count,
        'recurrence_days', math.floor(stats.recurrence_ms / 86400000))
    end
    stats_add({stats = stats}, stats.day,
      'n|' .. category .. '|' .. ladder[1][1] .. '|' .. stats.area .. '|' .. stats.how)
    if stats.publish then redis.call('HSET', ikey, 'published', 1) end  -- the town's choice
  end
end
if stats.day then
  stats_add({stats = stats}, stats.day,
    'r|' .. category .. '|' .. stats.area .. '|' .. stats.how)
end
local istatus = redis.call('HGET', ikey, 'status')
if WAITING[istatus] then
  redis.call('ZADD', KEYS[5], tonumber(redis.call('HGET', ikey, 'score')), incident)
end
redis.call('RPUSH', K.incident_alerts(incident), alert)

-- 4. The alert itself, its idempotency record and its rate-limit mark.
redis.call('HSET', K.alert(alert), 'id', alert, 'citizen', citizen, 'ref', ref,
  'category', category, 'lat', ARGV[5], 'lon', ARGV[6], 'cell', ARGV[7], 'text', text,
  'accuracy_m', ARGV[9], 'at', now, 'incident', incident, 'status', ALERT_RECEIVED)
for name, value in pairs(cjson.decode(ARGV[20])) do
  redis.call('HSET', K.alert(alert), name, value)
end
redis.call('SET', KEYS[2], alert, 'EX', tonumber(ARGV[14]))
if rate_n > 0 then
  redis.call('ZADD', KEYS[3], now, alert)
  redis.call('PEXPIRE', KEYS[3], rate_window)
end
if channel_n > 0 then
  redis.call('ZADD', KEYS[6], now, alert)
  redis.call('PEXPIRE', KEYS[6], channel_window)
end
-- The index of requests by time (Open311 GET): kept no longer than the retention
-- period, like the alerts it points to.
local retention = tonumber(ARGV[19])
if retention > 0 then
  redis.call('ZADD', KEYS[7], now, alert)
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - retention)
  redis.call('PEXPIRE', KEYS[7], retention)
end

-- 5. The event, in the same atomic step.
local view = incident_view(incident)
track_live(view)
local body = {type = 'incident', incident = view}
local offset = emit(KEYS[4], ARGV[15], 'incident', view.cell, nil, body)
if redis.call('HGET', ikey, 'published') == '1' then
  emit_neighbour(KEYS[4], ARGV[15], incident)
end
return {'ok', alert, incident, offset, cjson.encode(body)}
