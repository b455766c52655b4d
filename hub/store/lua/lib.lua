-- Shared helpers, prepended to every script by hub/store/scripts.py
-- (Redis 6.2, which the bundled binary is, has no FUNCTION LOAD).
-- Rule: the wire shape of an incident and of a unit is built here and only here.
-- Keys (hub/store/keys.py): the tenant's fixed keys come in KEYS, named in `KEY`
-- by the script that reads them; a key built from an id is K.<name>(id), the
-- generated scheme (K.prefix is set once, by the script). No key name is built here.

local KEY = {}  -- this run's fixed keys, by name: KEY.events, KEY.live, KEY.open_queue...

-- A key of another type (an operator's mistake, a partial restore) reads as
-- missing instead of failing the script: the record is skipped, not the request.
local function hash_table(key)
  local flat = redis.pcall('HGETALL', key)
  local t = {}
  if flat.err then return t end
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- nil for an unknown incident, and for one whose hash is unusable (no cell or
-- status, garbage in a number the queue is ordered by): skipped like a missing one.
local function incident_view(id)
  local h = hash_table(K.incident(id))
  if h.id == nil or h.cell == nil or h.status == nil then return nil end
  for _, f in ipairs({'priority', 'score', 'reports', 'reporters', 'opened_at'}) do
    if tonumber(h[f]) == nil then return nil end
  end
  return {
    id = h.id, category = h.category, priority = tonumber(h.priority),
    score = tonumber(h.score), cell = h.cell, lat = tonumber(h.lat), lon = tonumber(h.lon),
    status = h.status, reports = tonumber(h.reports), reporters = tonumber(h.reporters),
    text = h.text, opened_at = tonumber(h.opened_at), updated_at = tonumber(h.updated_at),
    merged_into = h.merged_into, unit = h.unit, assignment = h.assignment,
    closed_at = tonumber(h.closed_at),
    recurrence = tonumber(h.recurrence), recurrence_days = tonumber(h.recurrence_days),
  }
end

-- The status of a usable incident; nil for an unknown or unusable one, which a
-- lifecycle script then refuses as not found before it changes anything.
local function incident_status(id)
  local view = incident_view(id)
  return view and view.status
end

local function unit_view(id)
  local h = hash_table(K.unit(id))
  if h.id == nil then return nil end
  local sector = nil
  if h.sector and h.sector ~= '' then
    local ok, decoded = pcall(cjson.decode, h.sector)
    if ok and type(decoded) == 'table' then sector = decoded end  -- garbage: no sector
  end
  return {
    id = h.id, status = h.status or UNIT_UNSEEN, lat = tonumber(h.lat), lon = tonumber(h.lon),
    cell = h.cell, online = (tonumber(h.sessions or '0') or 0) > 0,
    last_seen = tonumber(h.last_seen), sector = sector,
  }
end

-- An offer as consoles see it: the live `assignment.state` (assign.lua) and a
-- console snapshot's `offers` (snapshot.lua) are this one shape.
local function offer_message(asg, incident, unit, at, expires_at)
  return {type = 'assignment.state', assignment = asg, incident = incident, unit = unit,
          state = OFFERED, at = at, expires_at = expires_at}
end

-- The pending offer of assignment `asg`, read from its hash; nil when the hash is
-- missing, of another type, unusable or no longer offered. Ending an offer removes
-- its deadline in the same script, so only bad data gets here: the deadline loop
-- counts and removes such a deadline (hub/server/timers.py); readers just skip it.
local function offer_view(asg)
  local a = hash_table(K.assignment(asg))
  local at, expires_at = tonumber(a.created_at), tonumber(a.expires_at)
  if a.state ~= OFFERED or not a.incident or not a.unit or not at or not expires_at then
    return nil
  end
  return offer_message(asg, a.incident, a.unit, at, expires_at)
end

-- Append one event to a stream; returns its id (the offset clients resume from).
local function emit(stream, maxlen, kind, cell, to, body)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*', 'k', kind, 'd', cjson.encode(body)}
  if cell and cell ~= '' then table.insert(args, 'c'); table.insert(args, cell) end
  if to and to ~= '' then table.insert(args, 'to'); table.insert(args, to) end
  return redis.call(unpack(args))
end

-- ---- dispatch lifecycle helpers ------------------------------------------------------
-- `ctx` (ARGV[1] of the lifecycle scripts, JSON) carries: prefix, now, by, session,
-- maxlen, inbox_maxlen, retention_s (closed incidents and their alerts),
-- audit_retention_s (their trails), inbox_retention_s, and ref_ttl_s when the
-- command has a ref; lifecycle_start sets ctx.events and ctx.ref_key from KEYS.

local function contains(list, value)
  for _, v in ipairs(list or {}) do if v == value then return true end end
  return false
end

local function fail(code, message) return {'err', code, message} end

-- Commands are idempotent by their `ref`: a retry (after a timeout, or an
-- `unavailable` whose command had in fact run) gets the first reply again
-- instead of acting twice. ctx.ref_key is set when the command carried a ref.
local function earlier_reply(ctx)
  if not ctx.ref_key then return nil end
  local reply = redis.call('GET', ctx.ref_key)
  if reply then return cjson.decode(reply) end
  return nil
end

-- The stage times this run observed, handed back to the process that ran it
-- (its Prometheus histograms): after the cached reply, so a retry observes nothing.
local STATS_SEEN = {}

local function done(ctx, reply)
  if ctx.ref_key then
    redis.call('SET', ctx.ref_key, cjson.encode(reply), 'EX', ctx.ref_ttl_s)
  end
  if #STATS_SEEN == 0 then return reply end
  local out = {unpack(reply)}
  table.insert(out, 'stages'); table.insert(out, cjson.encode(STATS_SEEN))
  return out
end

-- Every lifecycle script starts the same way. KEYS: the tenant's LIFECYCLE_KEYS
-- (hub/store/keys.py), then the keys of the ids its caller names (the script's
-- `subject`, listed in its header, then the reporters, alerts and trail of each
-- incident it names: hub/store/script_keys.py), then the ref's reply key if any.
-- ARGV[1] is its ctx, ARGV[2] its params; a retried ref has a reply already.
local function lifecycle_start()
  local ctx = cjson.decode(ARGV[1])
  K.prefix = ctx.prefix
  for i, name in ipairs(LIFECYCLE_KEYS) do KEY[name] = KEYS[i] end
  ctx.events = KEY.events
  local last = #KEYS
  if ctx.ref_ttl_s then ctx.ref_key = KEYS[last]; last = last - 1 end
  local subject = {unpack(KEYS, #LIFECYCLE_KEYS + 1, last)}
  return ctx, cjson.decode(ARGV[2]), earlier_reply(ctx), subject
end

local function history(ctx, id, action, status, note, extra)
  local entry = {at = ctx.now, by = ctx.by, session = ctx.session, action = action,
                 status = status}
  if note and note ~= '' then entry.note = note end
  for k, v in pairs(extra or {}) do entry[k] = v end
  redis.call('RPUSH', K.history(id), cjson.encode(entry))
  -- A retired incident's trail expires on its own clock, even when written after
  -- retirement: the incident's time left, plus what the trail outlives it by.
  local ttl = redis.call('TTL', K.incident(id))
  if ttl > 0 then
    local left = ttl + ctx.audit_retention_s - ctx.retention_s
    redis.call('EXPIRE', K.history(id), math.max(left, 1))
  end
end

-- A message for one recipient: appended to its durable inbox (what a resume
-- replays), and poked through the tenant stream (how live processes learn of it).
local function send_personal(ctx, role, sub, body)
  local inbox = K.inbox(role, sub)
  local id = redis.call('XADD', inbox, 'MAXLEN', '~', ctx.inbox_maxlen, '*',
    'k', body.type, 'd', cjson.encode(body))
  redis.call('EXPIRE', inbox, ctx.inbox_retention_s)
  body.stream = 'inbox'; body.offset = id
  emit(ctx.events, ctx.maxlen, body.type, nil, role .. ':' .. sub, body)
  body.stream = nil; body.offset = nil
  return id
end

local function notify_reporters(ctx, id, alert_status, note)
  if not alert_status then return end
  for _, alert in ipairs(redis.call('LRANGE', K.incident_alerts(id), 0, -1)) do
    local akey = K.alert(alert)
    local a = redis.call('HMGET', akey, 'citizen', 'status')
    if a[1] and a[2] ~= ALERT_WITHDRAWN and a[2] ~= alert_status then
      redis.call('HSET', akey, 'status', alert_status)
      send_personal(ctx, 'citizen', a[1],
        {type = 'alert.status', alert = alert, status = alert_status, at = ctx.now, note = note})
    end
  end
end

-- Every live incident is in `live` (what snapshots list), scored like the queue.
local function track_live(view)
  if TERMINAL[view.status] then
    redis.call('ZREM', KEY.live, view.id)
  else
    redis.call('ZADD', KEY.live, view.score, view.id)
  end
end

-- ---- neighbours: the public view of a published incident ---------------------------
-- Category, coarse cell (the statistics' st_area, at the public resolution), times
-- and status only: never a reporter, a text or a point. Rules: hub/core/neighbours.py.

local function neighbour_view(id)
  local h = redis.call('HMGET', K.incident(id), 'category', 'status', 'st_area',
    'opened_at', 'updated_at', 'published', 'reporters')
  if not h[1] or not h[2] or not h[3] then return nil end
  return {id = id, category = h[1], status = h[2], cell = h[3], opened_at = tonumber(h[4]),
          updated_at = tonumber(h[5]), published = h[6] == '1', reports = tonumber(h[7])}
end

-- Tell the neighbours of a published incident (or of one just unpublished) how it is,
-- and keep the set of published live incidents (what a neighbour's snapshot lists).
local function emit_neighbour(events, maxlen, id)
  local view = neighbour_view(id)
  if not view then return end
  if view.published and LIVE[view.status] then
    redis.call('ZADD', KEY.published, view.opened_at or 0, id)
  else
    redis.call('ZREM', KEY.published, id)
  end
  emit(events, maxlen, 'neighbour', view.cell, nil, {type = 'neighbour', incident = view})
end

local function emit_incident(ctx, id)
  local view = incident_view(id)
  track_live(view)
  emit(ctx.events, ctx.maxlen, 'incident', view.cell, nil, {type = 'incident', incident = view})
  if redis.call('HGET', K.incident(id), 'published') == '1' then
    emit_neighbour(ctx.events, ctx.maxlen, id)
  end
  return view
end

local function set_unit_status(ctx, unit, status)
  if not status then return end
  redis.call('HSET', K.unit(unit), 'status', status)
  local view = unit_view(unit)
  view.sector = nil
  emit(ctx.events, ctx.maxlen, 'unit', view.cell, nil, {type = 'unit', change = 'status', unit = view})
end

-- Terminal incident: out of the queue and of grouping; its data and its alerts'
-- (reporters' personal data) expire after the retention period.
local function retire_incident(ctx, id)
  local ikey = K.incident(id)
  local h = redis.call('HMGET', ikey, 'cell', 'category')
  redis.call('ZREM', KEY.open_queue, id)
  redis.call('ZREM', KEY.live, id)
  redis.call('ZREM', K.cell(h[1]), h[2] .. '|' .. id)
  redis.call('HSET', ikey, 'closed_at', ctx.now)
  for _, alert in ipairs(redis.call('LRANGE', K.incident_alerts(id), 0, -1)) do
    -- A merged incident's list still names the alerts that moved on: they live on
    -- with the incident they joined.
    local akey = K.alert(alert)
    if redis.call('HGET', akey, 'incident') == id then
      redis.call('EXPIRE', akey, ctx.retention_s)
    end
  end
  for _, key in ipairs({ikey, K.incident_reporters(id), K.incident_alerts(id)}) do
    redis.call('EXPIRE', key, ctx.retention_s)
  end
  redis.call('EXPIRE', K.history(id), ctx.audit_retention_s)
end

-- End an offered assignment (declined, expired, cancelled) or accept it; false
-- when it is not offered any more (so concurrent enders act exactly once).
local function end_assignment(ctx, asg, state, reason)
  local akey = K.assignment(asg)
  local a = hash_table(akey)
  if a.state ~= OFFERED then return false end
  redis.call('HSET', akey, 'state', state, 'ended_at', ctx.now, 'reason', reason or '')
  redis.call('ZREM', KEY.deadlines, asg)
  local ikey = K.incident(a.incident)
  if state ~= ASSIGNMENT_END.accept and redis.call('HGET', ikey, 'assignment') == asg then
    redis.call('HDEL', ikey, 'assignment')
  end
  redis.call('EXPIRE', akey, ctx.retention_s)
  local msg = {type = 'assignment.state', assignment = asg, incident = a.incident, unit = a.unit,
               state = state, reason = reason, at = ctx.now}
  emit(ctx.events, ctx.maxlen, 'assignment.state', nil, nil, msg)
  send_personal(ctx, 'unit', a.unit, msg)
  history(ctx, a.incident, 'assignment.' .. state, nil, reason, {assignment = asg, unit = a.unit})
  return a
end

-- The incident no longer needs its unit (closed, merged, withdrawn): tell the unit
-- and every console, and make the unit available again.
local function release_unit(ctx, id, current, reason)
  if not WITH_UNIT[current] then return end
  local ikey = K.incident(id)
  local unit = redis.call('HGET', ikey, 'unit')
  if not unit then return end
  local msg = {type = 'assignment.state', assignment = redis.call('HGET', ikey, 'assignment'),
               incident = id, unit = unit, state = ASSIGNMENT_END.cancel, reason = reason, at = ctx.now}
  send_personal(ctx, 'unit', unit, msg)
  emit(ctx.events, ctx.maxlen, 'assignment.state', nil, nil, msg)
  set_unit_status(ctx, unit, UNIT_STATUS_AFTER.release)
end

-- Priority and score after a change of reporters (unless an operator set it).
local function reprioritise(ctx, id, ladder)
  local ikey = K.incident(id)
  local reporters = redis.call('SCARD', K.incident_reporters(id))
  redis.call('HSET', ikey, 'reporters', reporters)
  if redis.call('HGET', ikey, 'priority_locked') ~= '1' and reporters > 0 then
    local step = ladder[math.min(reporters, #ladder)]
    redis.call('HSET', ikey, 'priority', step[1], 'score', step[2])
  end
  local status = redis.call('HGET', ikey, 'status')
  if WAITING[status] then
    redis.call('ZADD', KEY.open_queue, tonumber(redis.call('HGET', ikey, 'score')), id)
  end
end

-- ---- the town's statistics (grammar and reader: hub/core/stats.py) ----------------
-- ctx.stats = {gamma, ttl_s} when the tenant keeps statistics. An incident carries
-- its stamp (st_day, st_how, st_area) from its first report; one from before
-- statistics existed has none and is not counted.

local function stats_add(ctx, day, name)
  local key = K.stats_day(day)
  redis.call('HINCRBY', key, name, 1)
  redis.call('EXPIRE', key, ctx.stats.ttl_s)
end

-- The sketch bucket of a duration: hub.core.stats.bucket_of.
local function stats_bucket(ms, gamma)
  local seconds = ms / 1000
  if seconds <= 1 then return 0 end
  return math.ceil(math.log(seconds) / math.log(gamma))
end

local function stats_dims(ikey)
  local h = redis.call('HMGET', ikey, 'st_day', 'st_how', 'st_area', 'category', 'priority')
  if not h[1] or not h[2] or not h[3] or not h[4] or not h[5] then return nil end
  return h[1], h[4] .. '|' .. h[5] .. '|' .. h[3] .. '|' .. h[2]
end

-- The incident reached `stage` (first time only): the interval since its previous
-- stage, and the response and total times when this stage ends them.
local function stats_stage(ctx, id, stage)
  if not ctx.stats or not stage then return end
  local ikey = K.incident(id)
  local day, dims = stats_dims(ikey)
  if not day then return end
  if redis.call('HSETNX', ikey, 't_' .. stage, ctx.now) == 0 then return end
  local t = redis.call('HMGET', ikey, 'opened_at', 't_last', 't_on_scene')
  local opened = tonumber(t[1]) or ctx.now
  local function observe(series, since)
    local ms = math.max(0, ctx.now - since)
    stats_add(ctx, day, 'd|' .. series .. '|' .. dims .. '|' .. stats_bucket(ms, ctx.stats.gamma))
    table.insert(STATS_SEEN, {series, ms})
  end
  observe(stage, tonumber(t[2]) or opened)
  redis.call('HSET', ikey, 't_last', ctx.now)
  if stage == STAGE_OF.on_scene or (stage == STAGE_OF.resolve and not t[3]) then observe('response', opened) end
  if stage == STAGE_OF.resolve then observe('total', opened) end
end

-- How the incident ended (first ending only: a merged incident is not closed again).
local function stats_outcome(ctx, id, outcome)
  if not ctx.stats or not outcome then return end
  local ikey = K.incident(id)
  local day, dims = stats_dims(ikey)
  if not day then return end
  if redis.call('HSETNX', ikey, 'st_outcome', outcome) == 0 then return end
  stats_add(ctx, day, 'o|' .. outcome .. '|' .. dims)
end
