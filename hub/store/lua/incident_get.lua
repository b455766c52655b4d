-- One incident's view and its audit trail, read atomically.
-- ARGV[1] prefix, ARGV[2] incident id. Returns {view JSON, history entries...} or {}.
local view = incident_view(ARGV[1], ARGV[2])
if not view then return {} end
local out = {cjson.encode(view)}
for _, e in ipairs(redis.call('LRANGE', ARGV[1] .. 'inc:' .. ARGV[2] .. ':history', 0, -1)) do
  table.insert(out, e)
end
return out
