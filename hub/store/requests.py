"""Redis side of the Open311 GET answers: requests by time, and what they show.

Read-only: an alert's public fields and its incident's state, pipelined (one
round trip per batch, never a long script that would hold Redis up). The
index by time is written by submit_alert.lua, in the same step as the alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.store.client import RedisLike
from hub.store.keys import TenantKeys

__all__ = ["ALERT_FIELDS", "INCIDENT_FIELDS", "RequestStore"]

# Only what a public row is made of: never the point, the reporter or the text.
ALERT_FIELDS = ("id", "category", "cell", "at", "status", "incident", "source")
INCIDENT_FIELDS = ("status", "updated_at", "closed_at")


def _s(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


class RequestStore:
    """Requests received over Open311 (alerts whose `source` is a partner)."""

    def __init__(self, redis: RedisLike) -> None:
        self.redis = redis

    async def newest_between(
        self, keys: TenantKeys, start_ms: int, end_ms: int, offset: int, count: int
    ) -> list[str]:
        """Alert ids requested in [start_ms, end_ms], newest first."""
        raw: Any = await self.redis.zrevrangebyscore(
            keys.open311_requests, end_ms, start_ms, start=offset, num=count
        )
        return [str(_s(i)) for i in raw]

    async def rows(
        self, keys: TenantKeys, ids: Sequence[str]
    ) -> list[tuple[dict[str, str], dict[str, str]]]:
        """(alert, incident) fields of each id that is an Open311 request, in order."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert_id in ids:
                pipe.hmget(keys.alert(alert_id), ALERT_FIELDS)
            raw_alerts = await pipe.execute()
        alerts = []
        for values in raw_alerts:
            alert = {k: v for k, v in zip(ALERT_FIELDS, map(_s, values), strict=True) if v}
            # A citizen's own report (no source) is not an Open311 request: not shown.
            if alert.get("id") and alert.get("source", "").startswith("open311:"):
                alerts.append(alert)
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert in alerts:
                pipe.hmget(keys.incident(alert["incident"]), INCIDENT_FIELDS)
            raw_incidents = await pipe.execute()
        out = []
        for alert, values in zip(alerts, raw_incidents, strict=True):
            incident = {k: v for k, v in zip(INCIDENT_FIELDS, map(_s, values), strict=True) if v}
            out.append((alert, incident))
        return out
