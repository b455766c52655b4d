-- The published live incidents (their public view), with the stream's last id, read
-- in one atomic step so that a neighbour goes live from exactly that offset.
-- KEYS[1] published zset   KEYS[2] events stream
-- ARGV: 1 prefix, 2 max incidents
-- Returns {last stream id or '0-0', views JSON (a list, '[]' when empty)}.
K.prefix = ARGV[1]
local views = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local v = neighbour_view(id)
  if v then table.insert(views, v) end
end
local last = '0-0'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i + 1] end end
end
if #views == 0 then return {last, '[]'} end
return {last, cjson.encode(views)}
