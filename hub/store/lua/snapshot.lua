-- The console snapshot: open incidents (highest score first), the unit board and
-- the pending offers, with the stream's last id, read in one atomic step so that a
-- console can go live from exactly that offset without a gap.
--
-- KEYS[1] live incidents zset (every non-terminal incident)   KEYS[2] units set
-- KEYS[3] events stream   KEYS[4] deadlines zset (offered assignment → deadline)
-- ARGV: 1 prefix, 2 max incidents, 3 max offers
-- Returns {last stream id or '0-0', snapshot JSON}; the JSON's `bad` lists the
-- live incidents skipped because their hash is missing or unusable. `offers` are
-- the live `assignment.state` messages of the pending offers, soonest deadline
-- first; a deadline whose assignment is missing or not offered is skipped.
K.prefix = ARGV[1]
local incidents, units, offers, bad = {}, {}, {}, {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local v = incident_view(id)
  if v then table.insert(incidents, v) else table.insert(bad, id) end
end
for _, id in ipairs(redis.call('SORT', KEYS[2], 'ALPHA')) do
  local v = unit_view(id)
  if v then table.insert(units, v) end
end
-- A deadlines key of another type (bad data) lists no offer rather than failing every
-- console's and unit's opening: the deadline loop, which reads it too, reports it.
-- 0 offers asked (a unit's snapshot): none read; ZRANGE 0 -1 would read them all.
local pending = {}
if tonumber(ARGV[3]) > 0 then
  pending = redis.pcall('ZRANGE', KEYS[4], 0, tonumber(ARGV[3]) - 1)
  if pending.err then pending = {} end
end
for _, asg in ipairs(pending) do
  local v = offer_view(asg)
  if v then table.insert(offers, v) end
end
local last = '0-0'
if redis.call('EXISTS', KEYS[3]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[3])
  for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i + 1] end end
end
-- cjson encodes an empty table as {}: mark the lists so Python can fix them up.
return {last, cjson.encode({type = 'snapshot', incidents = incidents, units = units,
  offers = offers, n_incidents = #incidents, n_units = #units, n_offers = #offers,
  bad = bad, n_bad = #bad})}
