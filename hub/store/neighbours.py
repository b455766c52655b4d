"""The neighbours' feed in Redis: residents' opt-ins and the published incidents' snapshot
(rules: hub/core/neighbours.py; the public view is built in lua/lib.lua)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from hub.store.client import RedisLike
from hub.store.keys import TenantKeys
from hub.store.scripts import ScriptSet

__all__ = ["load_cells", "published_snapshot", "save_cells"]


async def save_cells(
    redis: RedisLike, keys: TenantKeys, citizen: str, cells: Sequence[str], ttl_s: int
) -> None:
    """Keep a resident's opt-in (none: opted out) for `ttl_s` after its last change."""
    if cells:
        await redis.set(keys.neighbour_cells(citizen), orjson.dumps(list(cells)), ex=ttl_s)
    else:
        await redis.delete(keys.neighbour_cells(citizen))


async def load_cells(redis: RedisLike, keys: TenantKeys, citizen: str) -> list[str]:
    """A resident's opted-in cells; none when unset or unreadable (they opt in again)."""
    try:
        raw: Any = await redis.get(keys.neighbour_cells(citizen))
        cells = orjson.loads(raw) if raw else []
    except (orjson.JSONDecodeError, TypeError):
        return []
    return [c for c in cells if isinstance(c, str)] if isinstance(cells, list) else []


async def published_snapshot(
    scripts: ScriptSet, keys: TenantKeys, limit: int
) -> tuple[str, list[dict[str, Any]]]:
    """(last event offset, public views of the published live incidents), atomically."""
    last, views = await scripts["neighbours_snapshot"](
        keys=[keys.published, keys.events], args=[keys.prefix, limit]
    )
    offset = last.decode() if isinstance(last, bytes) else str(last)
    return offset, list(orjson.loads(views))
