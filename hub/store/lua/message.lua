-- A message of the conversation: the control room writes to the reporters of an
-- incident (or one alert's reporter), or a reporter answers about its own alert.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the sender's message rate zset, and the
-- alert's hash (reply) or the incident's and, if given, the alert's (send).
-- ARGV[1] ctx JSON. ARGV[2] params JSON:
--   mode ('send' | 'reply'), incident (send), alert (reply; send: optional),
--   citizen (reply: the sender), text, from, rate_n, rate_window_ms (the
--   incident must be LIVE, generated from hub/core/lifecycle.py)
-- Returns {'ok', message} or {'err', code, message, retry_after_s?}.
local ctx, p, earlier, subject = lifecycle_start()
local rate_key = subject[1]
if earlier then return earlier end

local function reporter_of(alert, incident)
  local a = redis.call('HMGET', K.alert(alert), 'citizen', 'status', 'incident')
  if not a[1] or (incident and a[3] ~= incident) then return nil end
  return a
end

local incident, recipients = p.incident, {}
if p.mode == 'reply' then
  local a = reporter_of(p.alert, nil)
  -- Another citizen's alert is "not found": existence is not revealed.
  if not a or a[1] ~= p.citizen then return fail('not_found', 'no such alert') end
  if a[2] == ALERT_WITHDRAWN then return fail('conflict', 'the alert was withdrawn') end
  incident = a[3]
  recipients = {{p.citizen, p.alert}}
end
local status = incident_status(incident)
if not status then return fail('not_found', 'no such incident') end
if not LIVE[status] then return fail('conflict', 'the incident is ' .. status) end
if p.mode == 'send' then
  local alerts = p.alert and {p.alert} or
    redis.call('LRANGE', K.incident_alerts(incident), 0, -1)
  local seen = {}
  for _, alert in ipairs(alerts) do
    local a = reporter_of(alert, incident)
    if p.alert and not a then return fail('not_found', 'no such alert in this incident') end
    if a and a[2] ~= ALERT_WITHDRAWN and not seen[a[1]] then
      seen[a[1]] = true
      table.insert(recipients, {a[1], alert})
    end
  end
  if #recipients == 0 then return fail('conflict', 'no reporter to write to') end
end

-- The sender's sliding window, checked before anything is written.
redis.call('ZREMRANGEBYSCORE', rate_key, '-inf', ctx.now - p.rate_window_ms)
if redis.call('ZCARD', rate_key) >= p.rate_n then
  local oldest = redis.call('ZRANGE', rate_key, 0, 0, 'WITHSCORES')
  local wait = (tonumber(oldest[2]) + p.rate_window_ms - ctx.now) / 1000
  return {'err', 'rate_limited', 'too many messages; try again later', tostring(wait)}
end

local id = 'ms' .. redis.call('HINCRBY', KEY.seq, 'message', 1)
redis.call('ZADD', rate_key, ctx.now, id)
redis.call('PEXPIRE', rate_key, p.rate_window_ms)
for _, r in ipairs(recipients) do
  send_personal(ctx, 'citizen', r[1],
    {type = 'message', message = id, alert = r[2], from = p.from, text = p.text, at = ctx.now})
end
local about = p.alert
local body = {type = 'message', message = id, incident = incident, from = p.from,
              text = p.text, at = ctx.now, recipients = #recipients}
if about then body.alert = about end
emit(ctx.events, ctx.maxlen, 'message', nil, nil, body)
history(ctx, incident, 'message', status, nil,
  {message = id, from = p.from, alert = about, text = p.text, recipients = #recipients})
return done(ctx, {'ok', id})
