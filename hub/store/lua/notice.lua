-- A console broadcasts a notice to the citizens of some cells (live only: it is
-- fanned out from the tenant stream and never replayed).
-- KEYS[1] events stream. ARGV[1] ctx JSON. ARGV[2] params JSON: cells, text, severity
-- Returns {'ok', notice}. Kept by ref like the lifecycle commands: a retry gets the
-- same notice id and nothing is sent a second time.
local ctx, p, earlier = lifecycle_start()
if earlier then return earlier end
local id = 'nt' .. redis.call('HINCRBY', ctx.prefix .. 'seq', 'notice', 1)
emit(ctx.events, ctx.maxlen, 'notice', nil, nil,
  {type = 'notice', notice = id, cells = p.cells, text = p.text, severity = p.severity,
   at = ctx.now})
return done(ctx, {'ok', id})
