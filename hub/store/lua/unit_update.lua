-- Update a unit's state and emit a `unit` event to the tenant stream, atomically.
--
-- KEYS[1] unit hash   KEYS[2] events stream   KEYS[3] units set   KEYS[4] throttle key
-- ARGV: 1 prefix, 2 unit id, 3 change ('position'|'status'|'coverage'|'online'|'offline'),
--       4 stream_maxlen, 5 throttle_ms (0 = always emit), 6 sessions delta (-1/0/1),
--       7.. field/value pairs to set
-- Returns the event offset, or '' when throttled (state saved, no event).
-- The throttle only holds back positions within the same cell.
K.prefix = ARGV[1]
local fields = {}
for i = 7, #ARGV do table.insert(fields, ARGV[i]) end
local old_cell = redis.call('HGET', KEYS[1], 'cell')
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[1], 'id', ARGV[2], unpack(fields))
local delta = tonumber(ARGV[6])
if delta ~= 0 then
  local n = redis.call('HINCRBY', KEYS[1], 'sessions', delta)
  if n < 0 then redis.call('HSET', KEYS[1], 'sessions', 0) end
end
local throttle = tonumber(ARGV[5])
local view = unit_view(ARGV[2])
-- A position that moves the unit to another cell changes its coverage: never
-- throttled, but it starts a new throttle period like any emitted position.
if throttle > 0 then
  if view.cell == old_cell then
    if not redis.call('SET', KEYS[4], '1', 'PX', throttle, 'NX') then return '' end
  else
    redis.call('SET', KEYS[4], '1', 'PX', throttle)
  end
end
-- The sector can be large: only coverage and online events carry it.
if ARGV[3] ~= 'coverage' and ARGV[3] ~= 'online' then view.sector = nil end
return emit(KEYS[2], ARGV[4], 'unit', view.cell, nil, {type = 'unit', change = ARGV[3], unit = view})
