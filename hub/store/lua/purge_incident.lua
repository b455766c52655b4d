-- Retention of one closed incident, run now (`vigie purge`, and the hourly job):
-- past the retention period it goes, with its alerts (reporters' ids, texts,
-- points), reporters and alert list, and its trail once the trail's own period
-- has passed too; before, its expiry is set from the configured periods (a
-- shortened period applies to what is already stored).
--
-- KEYS[1] the incident hash   KEYS[2] its reporters set   KEYS[3] its alert list
-- KEYS[4] its trail
-- ARGV: 1 prefix, 2 incident id, 3 now (ms), 4 incidents period (ms), 5 audit period (ms)
-- Returns 'live' (not closed: kept), 'kept' (expiry set) or 'deleted'.
local ikey, reporters, alerts, trail = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
K.prefix = ARGV[1]
local id = ARGV[2]
local now, keep_ms, audit_ms = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = redis.call('HMGET', ikey, 'status', 'closed_at')
local closed = tonumber(h[2])
if not TERMINAL[h[1]] or not closed then return 'live' end

-- A merged incident's list still names the alerts that moved on: only its own go.
local own = {}
for _, alert in ipairs(redis.call('LRANGE', alerts, 0, -1)) do
  if redis.call('HGET', K.alert(alert), 'incident') == id then
    table.insert(own, K.alert(alert))
  end
end
local history_at = closed + audit_ms
if history_at <= now then
  redis.call('DEL', trail)
else
  redis.call('PEXPIREAT', trail, history_at)
end
if closed + keep_ms <= now then
  for _, key in ipairs(own) do redis.call('DEL', key) end
  redis.call('DEL', ikey, reporters, alerts)
  return 'deleted'
end
for _, key in ipairs(own) do redis.call('PEXPIREAT', key, closed + keep_ms) end
for _, key in ipairs({ikey, reporters, alerts}) do
  redis.call('PEXPIREAT', key, closed + keep_ms)
end
return 'kept'
