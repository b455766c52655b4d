-- The control room publishes an incident to its neighbours, or unpublishes it.
-- KEYS: LIFECYCLE_KEYS (lib.lua), then the incident's hash. ARGV[1] ctx JSON. ARGV[2] params JSON: incident, published (only a LIVE one)
-- Returns {'ok'} or {'err', code, message}.
local ctx, p, earlier, subject = lifecycle_start()
if earlier then return earlier end
local ikey = subject[1]
local status = incident_status(p.incident)
if not status then return fail('not_found', 'no such incident') end
if not redis.call('HGET', ikey, 'st_area') then
  return fail('conflict', 'this incident has no public place')
end
if p.published and not LIVE[status] then
  return fail('conflict', 'the incident is ' .. status)
end
local was = redis.call('HGET', ikey, 'published') == '1'
if was == p.published then return done(ctx, {'ok'}) end
redis.call('HSET', ikey, 'published', p.published and 1 or 0)
history(ctx, p.incident, p.published and 'publish' or 'unpublish', status, nil)
emit_neighbour(ctx.events, ctx.maxlen, p.incident)
return done(ctx, {'ok'})
