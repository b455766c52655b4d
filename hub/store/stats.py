"""Reading the town's statistics back: one HGETALL per day, in one round trip.

The counters are written by the lifecycle scripts (hub/store/lua/lib.lua); what
they mean is hub/core/stats.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.store.client import RedisLike
from hub.store.keys import TenantKeys

__all__ = ["read_days"]


async def read_days(
    redis: RedisLike, keys: TenantKeys, days: Sequence[str]
) -> list[tuple[str, dict[str, int]]]:
    """The counters of each day ((day, {field: count})); a day of another type reads empty."""
    async with redis.pipeline(transaction=False) as pipe:
        for day in days:
            pipe.hgetall(keys.stats_day(day))
        rows: list[Any] = await pipe.execute(raise_on_error=False)
    out = []
    for day, row in zip(days, rows, strict=True):
        if isinstance(row, Exception):
            continue  # WRONGTYPE: an operator's key over ours; the day counts as empty
        out.append((day, {k.decode(errors="replace"): _int(v) for k, v in row.items()}))
    return out


def _int(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
