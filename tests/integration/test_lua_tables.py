"""The generated Lua chunk, run by Redis's own Lua: the Python tables and key names."""

from __future__ import annotations

import orjson
from redis import Redis

from hub.core import lifecycle
from hub.store.keys import LIFECYCLE_KEYS, SCHEME, TenantKeys
from hub.store.lua_tables import generated_chunk

# Lists each generated table's keys (sorted) and builds every key of the scheme
# for ids "x1" and "y:2".
READ_BACK = """
K.prefix = ARGV[1]
local function keys_of(t)
  local out = {}
  for k, _ in pairs(t) do table.insert(out, k) end
  table.sort(out)
  return out
end
local built = {}
for name, f in pairs(K) do
  if type(f) == 'function' then built[name] = f('x1', 'y:2') end
end
return cjson.encode({live = keys_of(LIVE), waiting = keys_of(WAITING),
  terminal = keys_of(TERMINAL), with_unit = keys_of(WITH_UNIT), target = TARGET,
  ends = ASSIGNMENT_END, alert_for = ALERT_STATUS_FOR, lifecycle_keys = LIFECYCLE_KEYS,
  initial = INITIAL, offered = OFFERED, built = built})
"""


def test_redis_reads_the_python_tables_and_builds_the_python_key_names(redis_url: str) -> None:
    keys = TenantKeys("nar{bonne}")
    with Redis.from_url(redis_url) as redis:
        raw = redis.eval(generated_chunk() + READ_BACK, 0, keys.prefix)
    got = orjson.loads(raw)
    assert got["live"] == sorted(lifecycle.LIVE)
    assert got["waiting"] == sorted(lifecycle.WAITING)
    assert got["terminal"] == sorted(lifecycle.TERMINAL)
    assert got["with_unit"] == sorted(lifecycle.WITH_UNIT)
    assert got["target"] == {a: t for a, (_, t) in lifecycle.INCIDENT_TRANSITIONS.items()}
    assert got["ends"] == lifecycle.ASSIGNMENT_ENDS
    assert got["alert_for"] == lifecycle.ALERT_STATUS_FOR
    assert (got["initial"], got["offered"]) == (lifecycle.INITIAL, lifecycle.OFFERED)
    assert got["lifecycle_keys"] == list(LIFECYCLE_KEYS)
    ids = ("x1", "y:2")
    expected = {
        name: getattr(keys, name)(*ids[: template.count("{}")]) for name, template in SCHEME.items()
    }
    assert got["built"] == expected
