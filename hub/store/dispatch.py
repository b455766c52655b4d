"""Redis side of the dispatch lifecycle: assignments, status changes, merges, cancels.

Each operation is one Lua script (hub/store/lua) that checks the current state,
changes it, appends the audit entry, and emits the events and personal
messages, atomically. The rules (which state allows which action) come from
hub.core.lifecycle and are passed in: Redis enforces them, Python owns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hub.core.errors import ErrorCode, ProtocolError
from hub.core.recommend import UnitInfo
from hub.store.client import RedisLike
from hub.store.keys import TenantKeys
from hub.store.scripts import ScriptSet

__all__ = ["DispatchStore", "LifecycleContext"]


@dataclass(frozen=True, slots=True)
class LifecycleContext:
    """Who does what, when: passed to every lifecycle script as ctx."""

    keys: TenantKeys
    now_ms: int
    by: str  # the acting sub, or "hub"
    session: str  # the acting session id, or "hub"
    stream_maxlen: int
    inbox_maxlen: int
    retention_s: int
    ref_key: str | None = None  # where the reply to a command with a `ref` is kept
    ref_ttl_s: int = 86_400

    def to_json(self) -> bytes:
        """The ctx argument of the scripts."""
        ctx: dict[str, Any] = {
            "prefix": self.keys.prefix,
            "now": self.now_ms,
            "by": self.by,
            "session": self.session,
            "maxlen": self.stream_maxlen,
            "inbox_maxlen": self.inbox_maxlen,
            "retention_s": self.retention_s,
        }
        if self.ref_key is not None:
            ctx["ref_key"], ctx["ref_ttl_s"] = self.ref_key, self.ref_ttl_s
        return orjson.dumps(ctx)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _params(params: Mapping[str, Any]) -> bytes:
    # cjson decodes null as a truthy sentinel: never send None to Lua.
    return orjson.dumps({k: v for k, v in params.items() if v is not None})


PIPELINE_CHUNK = 500  # commands of a bulk job per round trip


class DispatchStore:
    """Calls the lifecycle scripts and maps their refusals to protocol errors."""

    def __init__(self, redis: RedisLike, scripts: ScriptSet) -> None:
        self.redis = redis
        self.scripts = scripts

    async def run(self, name: str, ctx: LifecycleContext, params: Mapping[str, Any]) -> list[str]:
        """Run lifecycle script `name`; returns its 'ok' payload or raises ProtocolError."""
        result = await self.scripts[name](
            keys=[ctx.keys.events], args=[ctx.to_json(), _params(params)]
        )
        values = [_s(v) for v in result]
        if values[0] == "err":
            raise ProtocolError(ErrorCode(values[1]), values[2])
        return values[1:]

    async def incident(
        self, keys: TenantKeys, incident_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(incident view, audit entries) or None when unknown."""
        result = await self.scripts["incident_get"](
            keys=[keys.events], args=[keys.prefix, incident_id]
        )
        if not result:
            return None
        return orjson.loads(result[0]), [orjson.loads(e) for e in result[1:]]

    async def reports(self, keys: TenantKeys, incident_id: str) -> list[dict[str, Any]]:
        """The incident's reports (alert id, time, text, status), oldest first.

        For consoles: what each reporter wrote, never who they are (no citizen id).
        A read-only view, so two reads instead of a script: a report merged in
        between shows up on the next read.
        """
        alerts: Any = await self.redis.lrange(keys.incident_alerts(incident_id), 0, -1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert in alerts:
                pipe.hmget(keys.alert(_s(alert)), "at", "text", "status", "category")
            rows = await pipe.execute()
        reports = []
        for alert, (at, text, status, category) in zip(alerts, rows, strict=True):
            if at is None:
                continue  # expired with its retention period
            reports.append(
                {
                    "alert": _s(alert),
                    "at": int(at),
                    "text": _s(text or b""),
                    "status": _s(status or b""),
                    "category": _s(category or b""),
                }
            )
        return reports

    async def units(self, keys: TenantKeys) -> list[UnitInfo]:
        """Every known unit, for recommendations."""
        members: Any = await self.redis.smembers(keys.units)
        ids = sorted(_s(u) for u in members)
        async with self.redis.pipeline(transaction=False) as pipe:
            for unit_id in ids:
                pipe.hmget(keys.unit(unit_id), "status", "sessions", "cell", "sector")
            rows = await pipe.execute()
        units = []
        for unit_id, (status, sessions, cell, sector) in zip(ids, rows, strict=True):
            units.append(
                UnitInfo(
                    id=unit_id,
                    status=_s(status or b"off_duty"),
                    online=int(sessions or 0) > 0,
                    cell=_s(cell) if cell else None,
                    sector=tuple(orjson.loads(sector)) if sector else (),
                )
            )
        return units

    async def due_assignments(self, keys: TenantKeys, now_ms: int, limit: int = 100) -> list[str]:
        """Offered assignments whose deadline has passed."""
        raw: Any = await self.redis.zrangebyscore(
            keys.deadlines, "-inf", now_ms, start=0, num=limit
        )
        return [_s(a) for a in raw]

    async def waiting_incidents(self, keys: TenantKeys) -> list[dict[str, str]]:
        """Incidents in the queue with what aging needs (id, priority, reporters, opened_at)."""
        members: Any = await self.redis.zrange(keys.open_queue, 0, -1)
        ids = [_s(i) for i in members]
        rows: list[Any] = []
        for start in range(0, len(ids), PIPELINE_CHUNK):  # one await per chunk: sessions breathe
            async with self.redis.pipeline(transaction=False) as pipe:
                for incident_id in ids[start : start + PIPELINE_CHUNK]:
                    pipe.hmget(
                        keys.incident(incident_id), "priority", "reporters", "opened_at", "status"
                    )
                rows += await pipe.execute()
        out = []
        for incident_id, (prio, reporters, opened, status) in zip(ids, rows, strict=True):
            if prio is not None:
                out.append(
                    {
                        "id": incident_id,
                        "priority": _s(prio),
                        "reporters": _s(reporters or b"1"),
                        "opened_at": _s(opened or b"0"),
                        "status": _s(status or b""),
                    }
                )
        return out

    async def set_scores(self, keys: TenantKeys, scores: Mapping[str, float]) -> None:
        """Write aged scores to the queue, the live set and the incidents (idempotent)."""
        items = list(scores.items())
        for start in range(0, len(items), PIPELINE_CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                for incident_id, score in items[start : start + PIPELINE_CHUNK]:
                    pipe.zadd(keys.open_queue, {incident_id: score}, xx=True)
                    pipe.zadd(keys.live, {incident_id: score}, xx=True)
                    pipe.hset(keys.incident(incident_id), "score", score)
                await pipe.execute()

    async def emit(
        self,
        keys: TenantKeys,
        maxlen: int,
        kind: str,
        body: Mapping[str, Any],
        cell: str | None = None,
        stream: str | None = None,
    ) -> str:
        """Append one event to the tenant stream (or `stream`); a single XADD is atomic."""
        fields: dict[str, bytes | str] = {"k": kind, "d": orjson.dumps(body)}
        if cell:
            fields["c"] = cell
        offset = await self.redis.xadd(
            stream or keys.events,
            fields,  # type: ignore[arg-type]
            maxlen=maxlen,
            approximate=True,
        )
        return _s(offset)

    async def touch_units(self, keys: TenantKeys, units: set[str], now_ms: int) -> None:
        """Record that these units were seen connected now."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for unit_id in units:
                pipe.hset(keys.unit(unit_id), "seen_at", now_ms)
            await pipe.execute()

    async def stale_units(self, keys: TenantKeys, units: list[str], before_ms: int) -> list[str]:
        """The units among `units` not seen since `before_ms` (never seen counts as seen now)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for unit_id in units:
                pipe.hmget(keys.unit(unit_id), "seen_at", "last_seen")
            rows = await pipe.execute()
        stale = []
        for unit_id, (seen_at, last_seen) in zip(units, rows, strict=True):
            seen = max(int(seen_at or 0), int(last_seen or 0))
            if seen and seen < before_ms:
                stale.append(unit_id)
        return stale

    async def claim(self, key: str, ttl_ms: int) -> bool:
        """A lock that one process wins for `ttl_ms` (periodic jobs run once, not per process)."""
        return bool(await self.redis.set(key, b"1", px=ttl_ms, nx=True))
