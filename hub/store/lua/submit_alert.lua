-- Store a citizen's alert, group it into an incident and emit the incident event,
-- atomically: no reader ever sees the alert without its event, or a gap.
--
-- KEYS[1] seq hash        KEYS[2] idempotency key   KEYS[3] citizen rate zset
-- KEYS[4] events stream   KEYS[5] open queue zset   KEYS[6..] candidate cell zsets,
--                                                   nearest first (KEYS[6] = own cell)
-- ARGV: 1 prefix, 2 citizen, 3 ref, 4 category, 5 lat, 6 lon, 7 cell, 8 text,
--       9 accuracy_m ('' if none), 10 now_ms, 11 group_window_ms, 12 rate_n (0 = off),
--       13 rate_window_ms, 14 idem_ttl_s, 15 stream_maxlen, 16 ladder JSON [[prio, score], ...]
-- Returns {'dup', alert, incident, at} | {'rate', retry_after_ms}
--       | {'ok', alert, incident, offset, event JSON}
local prefix, citizen, ref, category = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = tonumber(ARGV[10])

-- 1. Idempotency first: a re-sent ref is answered even when over the rate limit.
local existing = redis.call('GET', KEYS[2])
if existing then
  local a = redis.call('HMGET', prefix .. 'alert:' .. existing, 'incident', 'at')
  return {'dup', existing, a[1], a[2]}
end

-- 2. Sliding-window rate limit per citizen.
local rate_n, rate_window = tonumber(ARGV[12]), tonumber(ARGV[13])
if rate_n > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - rate_window)
  if redis.call('ZCARD', KEYS[3]) >= rate_n then
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    return {'rate', tostring(tonumber(oldest[2]) + rate_window - now)}
  end
end

-- 3. Grouping: the nearest open incident of the same category reported recently.
-- A candidate whose member or hash is unusable (corrupt data) is passed over:
-- the alert opens a new incident rather than failing.
local since = now - tonumber(ARGV[11])
local incident = nil
for i = 6, #KEYS do
  local members = redis.pcall('ZREVRANGEBYSCORE', KEYS[i], '+inf', since)
  if members.err then members = {} end
  for _, m in ipairs(members) do
    local sep = string.find(m, '|', 1, true)
    if sep and string.sub(m, 1, sep - 1) == category then
      local candidate = string.sub(m, sep + 1)
      if incident_view(prefix, candidate) then incident = candidate; break end
    end
  end
  if incident then break end
end

local ladder = cjson.decode(ARGV[16])
local alert = 'al' .. redis.call('HINCRBY', KEYS[1], 'alert', 1)
local text = ARGV[8]
local ikey

if incident then
  ikey = prefix .. 'inc:' .. incident
  local reporters = tonumber(redis.call('HGET', ikey, 'reporters'))
  if redis.call('SADD', ikey .. ':reporters', citizen) == 1 then reporters = reporters + 1 end
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
  redis.call('ZADD', prefix .. 'cell:' .. icell, now, category .. '|' .. incident)
else
  incident = 'in' .. redis.call('HINCRBY', KEYS[1], 'incident', 1)
  ikey = prefix .. 'inc:' .. incident
  redis.call('SADD', ikey .. ':reporters', citizen)
  redis.call('HSET', ikey, 'id', incident, 'category', category, 'priority', ladder[1][1],
    'base_priority', ladder[1][1], 'score', ladder[1][2], 'cell', ARGV[7], 'lat', ARGV[5],
    'lon', ARGV[6], 'status', 'open', 'reports', 1, 'reporters', 1, 'text', text,
    'opened_at', now, 'updated_at', now, 'last_report_at', now)
  redis.call('ZADD', KEYS[6], now, category .. '|' .. incident)
end
local istatus = redis.call('HGET', ikey, 'status')
if istatus == 'open' or istatus == 'acknowledged' then
  redis.call('ZADD', KEYS[5], tonumber(redis.call('HGET', ikey, 'score')), incident)
end
redis.call('RPUSH', ikey .. ':alerts', alert)

-- 4. The alert itself, its idempotency record and its rate-limit mark.
redis.call('HSET', prefix .. 'alert:' .. alert, 'id', alert, 'citizen', citizen, 'ref', ref,
  'category', category, 'lat', ARGV[5], 'lon', ARGV[6], 'cell', ARGV[7], 'text', text,
  'accuracy_m', ARGV[9], 'at', now, 'incident', incident, 'status', 'received')
redis.call('SET', KEYS[2], alert, 'EX', tonumber(ARGV[14]))
if rate_n > 0 then
  redis.call('ZADD', KEYS[3], now, alert)
  redis.call('PEXPIRE', KEYS[3], rate_window)
end

-- 5. The event, in the same atomic step.
local view = incident_view(prefix, incident)
track_live(prefix, view)
local body = {type = 'incident', incident = view}
local offset = emit(KEYS[4], ARGV[15], 'incident', view.cell, nil, body)
return {'ok', alert, incident, offset, cjson.encode(body)}
