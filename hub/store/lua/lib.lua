-- Shared helpers, prepended to every script by hub/store/scripts.py
-- (Redis 6.2, which the bundled binary is, has no FUNCTION LOAD).
-- Rule: the wire shape of an incident and of a unit is built here and only here.

local function hash_table(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function incident_view(prefix, id)
  local h = hash_table(prefix .. 'inc:' .. id)
  if h.id == nil then return nil end
  return {
    id = h.id, category = h.category, priority = tonumber(h.priority),
    score = tonumber(h.score), cell = h.cell, lat = tonumber(h.lat), lon = tonumber(h.lon),
    status = h.status, reports = tonumber(h.reports), reporters = tonumber(h.reporters),
    text = h.text, opened_at = tonumber(h.opened_at), updated_at = tonumber(h.updated_at),
    merged_into = h.merged_into, unit = h.unit,
  }
end

local function unit_view(prefix, id)
  local h = hash_table(prefix .. 'unit:' .. id)
  if h.id == nil then return nil end
  local sector = nil
  if h.sector and h.sector ~= '' then sector = cjson.decode(h.sector) end
  return {
    id = h.id, status = h.status or 'off_duty', lat = tonumber(h.lat), lon = tonumber(h.lon),
    cell = h.cell, online = (tonumber(h.sessions or '0') or 0) > 0,
    last_seen = tonumber(h.last_seen), sector = sector,
  }
end

-- Append one event to a stream; returns its id (the offset clients resume from).
local function emit(stream, maxlen, kind, cell, to, body)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*', 'k', kind, 'd', cjson.encode(body)}
  if cell and cell ~= '' then table.insert(args, 'c'); table.insert(args, cell) end
  if to and to ~= '' then table.insert(args, 'to'); table.insert(args, to) end
  return redis.call(unpack(args))
end
