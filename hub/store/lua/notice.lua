-- A console broadcasts a notice to the citizens of some cells. The broadcast is
-- live only (fanned out from the tenant stream, never replayed), and the notice
-- is kept until it expires, for the CAP documents and the Atom feed of current
-- notices (docs/interop.md): its hash expires then, and the `notices` index
-- (sorted set id → expires_at ms) lists the current ones.
-- KEYS: LIFECYCLE_KEYS (lib.lua). ARGV[1] ctx JSON. ARGV[2] params JSON:
--   cells, text, severity, expires_ms (lifetime)
-- Returns {'ok', notice}. Kept by ref like the lifecycle commands: a retry gets the
-- same notice id and nothing is sent or stored a second time.
local ctx, p, earlier = lifecycle_start()
if earlier then return earlier end
local id = 'nt' .. redis.call('HINCRBY', KEY.seq, 'notice', 1)
local expires_at = ctx.now + p.expires_ms
local nkey = K.notice(id)
local index = KEY.notices
redis.call('HSET', nkey, 'id', id, 'cells', cjson.encode(p.cells), 'text', p.text,
  'severity', p.severity, 'at', ctx.now, 'expires_at', expires_at, 'by', ctx.by)
redis.call('PEXPIREAT', nkey, expires_at)
-- The index is trimmed here, so it holds only what has not yet expired (plus
-- what expired since the last notice: readers filter by time too).
redis.call('ZREMRANGEBYSCORE', index, '-inf', ctx.now)
redis.call('ZADD', index, expires_at, id)
-- ... and goes with the last of them, so a town that stops publishing keeps nothing.
local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', index, last[2])
emit(ctx.events, ctx.maxlen, 'notice', nil, nil,
  {type = 'notice', notice = id, cells = p.cells, text = p.text, severity = p.severity,
   at = ctx.now, expires_at = expires_at})
return done(ctx, {'ok', id})
