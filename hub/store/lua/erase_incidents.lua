-- Right to erasure, one chunk of the incidents a resident reported, atomically:
-- each incident loses the resident's alerts from its list, their id from its
-- reporters (a placeholder keeps the count), their text and point (replaced by
-- another reporter's, else by the centre of a coarse cell); entries of its trail
-- the resident wrote no longer name them; a new entry says who erased, and when,
-- without what. The alerts themselves are deleted afterwards (hub/store/erasure.py),
-- so that every incident an alert passed through (merges) can still read it here.
--
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident hashes of the chunk
-- ARGV[1] ctx JSON (lifecycle ctx: prefix, now, by, session, maxlen, ...)
-- ARGV[2] params JSON: citizen, erasure (id), incidents [{id, alerts = [ids known to
--         point at it]}] in KEYS order, places {alert id: {lat, lon, cell}} (coarse)
-- Returns {incident id, reports erased, ...} for the incidents changed.
local ctx, p, _, subject = lifecycle_start()
local placeholder = 'erased:' .. p.erasure
local out = {}

-- The resident's alerts of an incident (those this erasure covers: in `places`),
-- from its list and from those (withdrawn) known to point at it; and the others'.
local function split_alerts(id, known)
  local mine, others, seen = {}, {}, {}
  local function take(id)
    if seen[id] then return end
    seen[id] = true
    local a = hash_table(K.alert(id))
    if a.citizen == p.citizen and p.places[id] then
      table.insert(mine, a)
    elseif a.id then
      table.insert(others, a)
    end
  end
  for _, alert in ipairs(known) do take(alert) end
  for _, alert in ipairs(redis.call('LRANGE', K.incident_alerts(id), 0, -1)) do take(alert) end
  return mine, others
end

local function move_cell(ikey, id, new_cell)
  local h = redis.call('HMGET', ikey, 'cell', 'category')
  if not new_cell or h[1] == new_cell then return end
  local member = h[2] .. '|' .. id
  local score = redis.call('ZSCORE', K.cell(h[1]), member)
  if score then  -- still open to grouping: it groups where it now is
    redis.call('ZREM', K.cell(h[1]), member)
    redis.call('ZADD', K.cell(new_cell), score, member)
  end
  redis.call('HSET', ikey, 'cell', new_cell)
end

-- Text and point: another reporter's if there is one, else no text and a coarse place.
local function replace_traces(ikey, id, mine, others)
  local h = redis.call('HMGET', ikey, 'text', 'lat', 'lon')
  local text_is_mine, point_is_mine, place = false, false, nil
  for _, a in ipairs(mine) do
    if a.text and a.text ~= '' and a.text == h[1] then text_is_mine = true end
    if a.lat == h[2] and a.lon == h[3] then point_is_mine = true; place = p.places[a.id] end
  end
  if text_is_mine then
    local text = ''
    for i = #others, 1, -1 do
      if others[i].text and others[i].text ~= '' then text = others[i].text; break end
    end
    redis.call('HSET', ikey, 'text', text)
  end
  if point_is_mine then
    local lat, lon, cell = place.lat, place.lon, place.cell
    for _, o in ipairs(others) do
      if o.lat and o.cell then lat, lon, cell = o.lat, o.lon, o.cell; break end
    end
    move_cell(ikey, id, cell)
    redis.call('HSET', ikey, 'lat', lat, 'lon', lon)
  end
end

-- The trail keeps what was done, not who did it, when the resident did it.
local function unname_in_trail(id)
  local hkey = K.history(id)
  for i, raw in ipairs(redis.call('LRANGE', hkey, 0, -1)) do
    local e = cjson.decode(raw)
    if e.by == p.citizen then  -- their answers' texts and ratings' comments too
      e.by = 'erased'; e.session = nil; e.note = nil; e.text = nil; e.comment = nil
      redis.call('LSET', hkey, i - 1, cjson.encode(e))
    end
  end
end

for i, item in ipairs(p.incidents) do
  local ikey, id = subject[i], item.id
  if redis.call('EXISTS', ikey) == 1 then
    local mine, others = split_alerts(id, item.alerts)
    local reporters = K.incident_reporters(id)
    local named = redis.call('SREM', reporters, p.citizen) == 1
    if named then redis.call('SADD', reporters, placeholder) end
    if #mine > 0 or named then
      for _, a in ipairs(mine) do redis.call('LREM', K.incident_alerts(id), 0, a.id) end
      replace_traces(ikey, id, mine, others)
      unname_in_trail(id)
      redis.call('HINCRBY', ikey, 'erased_reports', #mine)
      local status = redis.call('HGET', ikey, 'status')
      history(ctx, id, 'erasure', status, nil, {erasure = p.erasure, reports = #mine})
      emit_incident(ctx, id)  -- consoles and units replace what they showed
      table.insert(out, id); table.insert(out, #mine)
    end
  end
end
return out
