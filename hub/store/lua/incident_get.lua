-- One incident's view and its audit trail, read atomically.
-- KEYS[1] the incident's hash, KEYS[2] its trail. ARGV[1] prefix, ARGV[2] incident id.
-- Returns {view JSON, history entries...} or {}.
K.prefix = ARGV[1]
local view = incident_view(ARGV[2])
if not view then return {} end
local out = {cjson.encode(view)}
local trail = redis.pcall('LRANGE', KEYS[2], 0, -1)
if trail.err then trail = {} end  -- a trail key of another type: the view without it
for _, e in ipairs(trail) do table.insert(out, e) end
return out
