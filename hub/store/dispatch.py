"""Redis side of the dispatch lifecycle: assignments, status changes, merges, cancels.

Each operation is one Lua script (hub/store/lua) that checks the current state,
changes it, appends the audit entry, and emits the events and personal
messages, atomically. The rules (which state allows which action) come from
hub.core.lifecycle and are passed in: Redis enforces them, Python owns them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hub.config import HubSettings, TenantConfig
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.recommend import UnitInfo
from hub.core.records import BadRecord, WaitingIncident, parse_int, unit_info, waiting_incident
from hub.core.stats import GAMMA
from hub.store.client import RedisLike
from hub.store.keys import TenantKeys
from hub.store.replication import AckPolicy, ReplicaAcks
from hub.store.script_keys import subject_keys
from hub.store.scripts import ScriptSet

__all__ = ["DispatchStore", "LifecycleContext"]

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class LifecycleContext:
    """Who does what, when: passed to every lifecycle script as ctx."""

    keys: TenantKeys
    now_ms: int
    by: str  # the acting sub, or "hub"
    session: str  # the acting session id, or "hub"
    stream_maxlen: int
    inbox_maxlen: int
    retention_s: int  # closed incidents and their alerts
    ref_key: str | None = None  # where the reply to a command with a `ref` is kept
    ref_ttl_s: int = 86_400
    stats_ttl_s: int = 0  # how long the tenant's aggregates live; 0: none kept
    audit_retention_s: int = 0  # a closed incident's trail; 0: as long as the incident
    inbox_retention_s: int = 0  # personal inboxes; 0: as long as incidents

    @classmethod
    def for_tenant(
        cls, hub: HubSettings, tenant: TenantConfig, by: str, session: str, now_ms: int
    ) -> LifecycleContext:
        """The ctx of an actor of `tenant` (its keys, limits and retention periods)."""
        return cls(
            keys=TenantKeys(tenant.id),
            now_ms=now_ms,
            by=by,
            session=session,
            stream_maxlen=hub.stream_maxlen,
            inbox_maxlen=hub.inbox_maxlen,
            retention_s=tenant.retention.incidents_days * DAY_S,
            audit_retention_s=tenant.retention.audit_days * DAY_S,
            inbox_retention_s=tenant.retention.inbox_days * DAY_S,
            stats_ttl_s=tenant.stats.retention_days * DAY_S,
        )

    def script_keys(self, subject: list[str]) -> list[str]:
        """A lifecycle script's KEYS: the tenant's fixed keys, `subject`, the ref's key."""
        ref = [] if self.ref_key is None else [self.ref_key]
        return [*self.keys.lifecycle(), *subject, *ref]

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
            "audit_retention_s": self.audit_retention_s or self.retention_s,
            "inbox_retention_s": self.inbox_retention_s or self.retention_s,
        }
        if self.ref_key is not None:  # the key itself comes last in KEYS
            ctx["ref_ttl_s"] = self.ref_ttl_s
        if self.stats_ttl_s:
            ctx["stats"] = {"gamma": GAMMA, "ttl_s": self.stats_ttl_s}
        return orjson.dumps(ctx)


def _s(value: bytes | str) -> str:
    # "replace": an id that is not UTF-8 (corrupt data) names no record, rather
    # than failing the whole loop that met it.
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _params(params: Mapping[str, Any]) -> bytes:
    # cjson decodes null as a truthy sentinel: never send None to Lua.
    return orjson.dumps({k: v for k, v in params.items() if v is not None})


def _json_or_none(raw: bytes) -> Any:
    """A JSON value; None for garbage (an audit entry written by hand, say)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


Observe = Callable[[str, str, float], None]  # (tenant, series, seconds)

# Keys of a bulk job (aging, presence) per round trip. redis-py packs a
# pipeline on the loop: at 500 (1,500 commands for set_scores) one chunk held
# the loop for tens of ms every aging period, in every session's latency tail.
PIPELINE_CHUNK = 100


def _wrong_type(source: str, key: str, error: Exception) -> BadRecord:
    """A key whose command failed (WRONGTYPE: an operator's SET over a hash, say)."""
    return BadRecord(source, key, f"unreadable: {error}")


class DispatchStore:
    """Calls the lifecycle scripts and maps their refusals to protocol errors."""

    def __init__(
        self,
        redis: RedisLike,
        scripts: ScriptSet,
        observe: Observe | None = None,
        acks: ReplicaAcks | None = None,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.observe = observe  # told each stage time a script of this process measured
        self.acks = acks or ReplicaAcks(redis, AckPolicy(fixed=0))

    async def run(
        self,
        name: str,
        ctx: LifecycleContext,
        params: Mapping[str, Any],
        *,
        acked: bool = True,
    ) -> list[str]:
        """Run lifecycle script `name`; returns its 'ok' payload or raises ProtocolError.

        `acked` (a client's command, answered): the reply waits for replicas as
        `acks` requires. The hub's own actions (deadlines, auto-dispatch) pass
        False: nobody is told, and a lost one is redone from the state left.
        """
        keys = ctx.script_keys(subject_keys(name, ctx.keys, params))
        # A key travels in KEYS (Cluster's rule), not a second time in the params.
        args = [ctx.to_json(), _params({k: v for k, v in params.items() if k != "rate_key"})]
        script = self.scripts[name]
        if acked:
            result = await self.acks.run(script, keys, args, ctx.keys.ack_fence)
        else:
            result = await script(keys=keys, args=args)
        values = [_s(v) for v in result]
        if values[0] == "err":
            retry = float(values[3]) if len(values) > 3 else None
            raise ProtocolError(ErrorCode(values[1]), values[2], retry_after_s=retry)
        if len(values) >= 3 and values[-2] == "stages":  # lib.lua done(): stage times seen
            if self.observe is not None:
                for series, ms in orjson.loads(values[-1]):
                    self.observe(ctx.keys.tenant, series, ms / 1000)
            values = values[:-2]
        return values[1:]

    async def incident(
        self, keys: TenantKeys, incident_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """(incident view, audit entries) or None when unknown."""
        result = await self.scripts["incident_get"](
            keys=[keys.incident(incident_id), keys.history(incident_id)],
            args=[keys.prefix, incident_id],
        )
        if not result:
            return None
        return orjson.loads(result[0]), [e for e in map(_json_or_none, result[1:]) if e is not None]

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

    async def _hmget_each(
        self, keys: list[str], fields: tuple[str, ...]
    ) -> list[dict[str, Any] | Exception]:
        """HMGET `fields` of every key, in chunks; a key of the wrong type gives its error."""
        rows: list[Any] = []
        for start in range(0, len(keys), PIPELINE_CHUNK):  # one await per chunk: sessions breathe
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys[start : start + PIPELINE_CHUNK]:
                    pipe.hmget(key, *fields)
                rows += await pipe.execute(raise_on_error=False)
        return [
            row if isinstance(row, Exception) else dict(zip(fields, row, strict=True))
            for row in rows
        ]

    async def units(self, keys: TenantKeys) -> tuple[list[UnitInfo], list[BadRecord]]:
        """Every known unit, for recommendations, and the unit records skipped."""
        members: Any = await self.redis.smembers(keys.units)
        ids = sorted(_s(u) for u in members)
        names = [keys.unit(u) for u in ids]
        rows = await self._hmget_each(names, ("status", "sessions", "cell", "sector"))
        units: list[UnitInfo] = []
        bad: list[BadRecord] = []
        for unit_id, key, row in zip(ids, names, rows, strict=True):
            if isinstance(row, Exception):
                bad.append(_wrong_type("unit", key, row))
                continue
            unit = unit_info(unit_id, key, row)
            if isinstance(unit, BadRecord):
                bad.append(unit)
            else:
                units.append(unit)
        return units, bad

    async def due_assignments(
        self, keys: TenantKeys, now_ms: int, limit: int = 100
    ) -> tuple[list[str], float | None]:
        """Offered assignments whose deadline has passed (at most `limit`), and the
        next deadline still ahead (ms; None: none, or `limit` were due), one read."""
        raw: Any = await self.redis.zrange(keys.deadlines, 0, limit, withscores=True)
        due = [_s(a) for a, at in raw[:limit] if at <= now_ms]
        ahead = [at for _, at in raw if at > now_ms]
        return due, (ahead[0] if ahead and len(due) < limit else None)

    async def drop_deadline(self, keys: TenantKeys, assignment: str) -> None:
        """Forget the deadline of an assignment that is not offered (any more, or ever)."""
        await self.redis.zrem(keys.deadlines, assignment)

    async def waiting_batches(
        self, keys: TenantKeys
    ) -> AsyncIterator[tuple[list[WaitingIncident], list[BadRecord]]]:
        """The queue's incidents with what aging needs, PIPELINE_CHUNK at a time.

        Each batch is one round trip and is parsed before the next is asked
        for, so a queue of thousands costs the loop many short turns rather
        than one long one. Also yields the incident records skipped.
        """
        members: Any = await self.redis.zrange(keys.open_queue, 0, -1)
        ids = [_s(i) for i in members]
        for start in range(0, len(ids), PIPELINE_CHUNK):
            chunk = ids[start : start + PIPELINE_CHUNK]
            names = [keys.incident(i) for i in chunk]
            rows = await self._hmget_each(names, ("priority", "reporters", "opened_at", "status"))
            waiting, bad = [], []
            for incident_id, key, row in zip(chunk, names, rows, strict=True):
                found = (
                    _wrong_type("incident", key, row)
                    if isinstance(row, Exception)
                    else waiting_incident(incident_id, key, row)
                )
                if isinstance(found, BadRecord):
                    bad.append(found)
                elif found is not None:
                    waiting.append(found)
            yield waiting, bad

    async def set_scores(self, keys: TenantKeys, scores: Mapping[str, float]) -> None:
        """Write aged scores to the queue, the live set and the incidents (idempotent).

        One round trip per PIPELINE_CHUNK incidents: one ZADD per sorted set
        for the whole chunk, and one HSET per incident.
        """
        items = list(scores.items())
        for start in range(0, len(items), PIPELINE_CHUNK):
            chunk = dict(items[start : start + PIPELINE_CHUNK])
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(keys.open_queue, chunk, xx=True)
                pipe.zadd(keys.live, chunk, xx=True)
                for incident_id, score in chunk.items():
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

    async def touch_units(self, keys: TenantKeys, units: set[str], now_ms: int) -> list[BadRecord]:
        """Record that these units were seen connected now; returns the unit records skipped."""
        names = [keys.unit(u) for u in sorted(units)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in names:
                pipe.hset(key, "seen_at", now_ms)
            results = await pipe.execute(raise_on_error=False)
        return [
            _wrong_type("unit", key, result)
            for key, result in zip(names, results, strict=True)
            if isinstance(result, Exception)
        ]

    async def stale_units(
        self, keys: TenantKeys, units: list[str], before_ms: int
    ) -> tuple[list[str], list[BadRecord]]:
        """The units among `units` not seen since `before_ms` (never seen counts as seen now).

        Also returns the unit records skipped (wrong type, garbage timestamps).
        """
        names = [keys.unit(u) for u in units]
        rows = await self._hmget_each(names, ("seen_at", "last_seen"))
        stale, bad = [], []
        for unit_id, key, row in zip(units, names, rows, strict=True):
            if isinstance(row, Exception):
                bad.append(_wrong_type("unit", key, row))
                continue
            seen_at, last_seen = parse_int(row["seen_at"], 0), parse_int(row["last_seen"], 0)
            if seen_at is None or last_seen is None:
                bad.append(BadRecord("unit", key, "seen_at or last_seen is not a number"))
                continue
            seen = max(seen_at, last_seen)
            if seen and seen < before_ms:
                stale.append(unit_id)
        return stale, bad

    async def claim(self, key: str, ttl_ms: int) -> bool:
        """A lock that one process wins for `ttl_ms` (periodic jobs run once, not per process)."""
        return bool(await self.redis.set(key, b"1", px=ttl_ms, nx=True))
