-- A reporter rates how its alert was handled, once, after the end.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the alert's hash. ARGV[1] ctx JSON. ARGV[2] params JSON:
--   alert, citizen, score (1..5), comment, after (alert statuses that may be rated)
-- Returns {'ok'} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local akey = subject[1]
local a = hash_table(akey)
if not a.id or a.citizen ~= p.citizen then return fail('not_found', 'no such alert') end
if not contains(p.after, a.status) then
  return fail('conflict', 'an alert can be rated once it is resolved or rejected')
end
if a.feedback_score then return fail('conflict', 'this alert was rated already') end
redis.call('HSET', akey, 'feedback_score', p.score, 'feedback_comment', p.comment or '',
  'feedback_at', ctx.now)
local body = {type = 'feedback', incident = a.incident, alert = p.alert, score = p.score,
              at = ctx.now}
if p.comment and p.comment ~= '' then body.comment = p.comment end
emit(ctx.events, ctx.maxlen, 'feedback', nil, nil, body)
if incident_status(a.incident) then  -- not once the incident has expired
  history(ctx, a.incident, 'feedback', nil, nil,
    {alert = p.alert, score = p.score, comment = body.comment})
end
if ctx.stats then
  local day, dims = stats_dims(K.incident(a.incident))
  if day then stats_add(ctx, day, 'f|' .. dims .. '|' .. p.score) end
end
return done(ctx, {'ok'})
