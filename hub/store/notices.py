"""Reads of kept notices: one by id, and the current ones (hub/store/lua/notice.lua writes them).

A notice's hash expires with the notice, so what is read here is current by
construction; the index may still name a notice that expired since the last
one was written, and such ids are skipped.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.core.cap import PublicNotice
from hub.store.client import RedisLike
from hub.store.keys import TenantKeys

__all__ = ["NoticeStore"]

_FIELDS = ("id", "cells", "text", "severity", "at", "expires_at")


def _notice(row: list[bytes | None]) -> PublicNotice | None:
    if any(value is None for value in row):
        return None  # expired (or never written)
    nid, cells, text, severity, at, expires_at = (v.decode() for v in row if v is not None)
    return PublicNotice(
        id=nid,
        cells=tuple(orjson.loads(cells)),
        text=text,
        severity=severity,
        at_ms=int(at),
        expires_ms=int(expires_at),
    )


class NoticeStore:
    """The notices a tenant keeps until they expire."""

    def __init__(self, redis: RedisLike) -> None:
        self.redis = redis

    async def get(self, keys: TenantKeys, notice_id: str) -> PublicNotice | None:
        """The notice, or None when unknown or expired."""
        row: Any = await self.redis.hmget(keys.notice(notice_id), _FIELDS)
        return _notice(row)

    async def current(self, keys: TenantKeys, now_ms: int, limit: int) -> list[PublicNotice]:
        """Notices not yet expired, newest first, at most `limit`."""
        ids: Any = await self.redis.zrangebyscore(keys.notices, f"({now_ms}", "+inf")
        # Ids grow with time (nt1, nt2, …): the newest are the highest numbers.
        newest = sorted((i.decode() for i in ids), key=lambda i: -int(i[2:]))[:limit]
        async with self.redis.pipeline(transaction=False) as pipe:
            for notice_id in newest:
                pipe.hmget(keys.notice(notice_id), _FIELDS)
            rows = await pipe.execute()
        return [n for n in map(_notice, rows) if n is not None]
