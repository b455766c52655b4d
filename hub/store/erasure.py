"""Right to erasure: remove one resident's alerts, texts, points and inbox.

Steps, each idempotent (erasing twice is fine, and an erasure cut short is
finished by running it again):

1. find the resident's alerts (SCAN of the tenant's alert hashes) and the
   incidents they reported to (the alerts' incidents, and every incident whose
   reporters name them: merges leave the sources naming them);
2. per chunk of incidents, one script (erase_incidents.lua) removes them from
   the incident atomically and keeps its statistics anonymised;
3. per chunk of alerts, one transaction deletes the alert hashes and their
   entries in the Open311 index;
4. the resident's own keys: inbox, rate-limit window, idempotency records,
   kept replies of their commands;
5. stream entries that carry their data (pokes addressed to them, incident views
   with their text or point, in the tenant stream and in units' inboxes) are
   deleted, since stream entries cannot be rewritten;
6. one entry in the tenant's erasure log: who, when, how much — not what.

Everything is bounded: SCANs and stream reads go by pages, scripts by chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from hub.core.privacy import ErasureTrace, anonymous_place
from hub.store.client import RedisLike
from hub.store.dispatch import LifecycleContext
from hub.store.keys import TenantKeys
from hub.store.scripts import ScriptSet

__all__ = ["ErasureReport", "erase_citizen", "scan_keys"]

SCAN_COUNT = 1000
INCIDENT_CHUNK = 50  # incidents per script call: each call holds Redis briefly
ALERT_CHUNK = 200
STREAM_PAGE = 1000


@dataclass(slots=True)
class ErasureReport:
    """What an erasure removed (counts and incident ids: none of the erased data)."""

    erasure: str
    tenant: str
    by: str
    at: int
    alerts: int = 0
    incidents: list[str] = field(default_factory=list)
    keys: int = 0
    stream_entries: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as the CLI prints it and the API answers it."""
        return asdict(self)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def scan_keys(
    redis: RedisLike, pattern: str, kind: str | None = None
) -> AsyncIterator[list[str]]:
    """Pages of the keys matching `pattern` (and of Redis type `kind`)."""
    page: list[str] = []
    async for key in redis.scan_iter(match=pattern, count=SCAN_COUNT, _type=kind):
        page.append(_s(key))
        if len(page) >= SCAN_COUNT:
            yield page
            page = []
    if page:
        yield page


async def _residents_alerts(
    redis: RedisLike, keys: TenantKeys, citizen: str
) -> dict[str, dict[str, str]]:
    """The resident's alerts: id → stored fields."""
    found: dict[str, dict[str, str]] = {}
    async for page in scan_keys(redis, keys.match_scheme("alert"), "hash"):
        async with redis.pipeline(transaction=False) as pipe:
            for key in page:
                pipe.hget(key, "citizen")
            owners = await pipe.execute()
        mine = [k for k, owner in zip(page, owners, strict=True) if owner and _s(owner) == citizen]
        async with redis.pipeline(transaction=False) as pipe:
            for key in mine:
                pipe.hgetall(key)
            rows = await pipe.execute()
        for row in rows:
            fields = {_s(k): _s(v) for k, v in row.items()}
            if fields.get("citizen") == citizen:  # not deleted meanwhile
                found[fields["id"]] = fields
    return found


async def _named_incidents(redis: RedisLike, keys: TenantKeys, citizen: str) -> set[str]:
    """Incidents whose reporters name the resident (merge sources included)."""
    named: set[str] = set()
    async for page in scan_keys(redis, keys.match_scheme("incident_reporters"), "set"):
        async with redis.pipeline(transaction=False) as pipe:
            for key in page:
                pipe.sismember(key, citizen)
            hits = await pipe.execute()
        named.update(
            keys.id_in("incident_reporters", k) for k, hit in zip(page, hits, strict=True) if hit
        )
    return named


async def erase_citizen(
    redis: RedisLike,
    scripts: ScriptSet,
    ctx: LifecycleContext,
    citizen: str,
    *,
    coarse_resolution: int,
    hub_resolution: int,
) -> ErasureReport:
    """Erase one resident of `ctx.keys`' tenant; `ctx.by` is who asked (for the log)."""
    keys = ctx.keys
    erasure = "er" + str(await redis.hincrby(keys.seq, "erasure", 1))
    report = ErasureReport(erasure, keys.tenant, ctx.by, ctx.now_ms)
    alerts = await _residents_alerts(redis, keys, citizen)
    places = {
        a: asdict(anonymous_place(f["cell"], coarse_resolution, hub_resolution))
        for a, f in alerts.items()
        if f.get("cell")
    }
    known: dict[str, list[str]] = {}
    for alert_id, fields in alerts.items():
        known.setdefault(fields.get("incident", ""), []).append(alert_id)
    known.pop("", None)
    incidents = sorted(set(known) | await _named_incidents(redis, keys, citizen))
    for start in range(0, len(incidents), INCIDENT_CHUNK):
        chunk = incidents[start : start + INCIDENT_CHUNK]
        report.incidents += await _erase_incidents(
            redis, scripts, ctx, citizen, erasure, chunk, known, places
        )
    report.alerts = await _delete_alerts(redis, keys, list(alerts))
    report.keys = await _delete_own_keys(redis, keys, citizen)
    trace = ErasureTrace.of(citizen, alerts.values(), incidents)
    report.stream_entries = await _delete_entries(redis, keys, trace)
    await _log(redis, keys, report)
    return report


async def _erase_incidents(
    redis: RedisLike,
    scripts: ScriptSet,
    ctx: LifecycleContext,
    citizen: str,
    erasure: str,
    chunk: list[str],
    known: Mapping[str, list[str]],
    places: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Run erase_incidents.lua on one chunk; the incidents it changed."""
    async with redis.pipeline(transaction=False) as pipe:
        for incident_id in chunk:
            pipe.lrange(ctx.keys.incident_alerts(incident_id), 0, -1)
        listed = await pipe.execute()
    # The places of the resident's alerts these incidents list or are known to hold
    # (a merge leaves its sources listing alerts that moved on).
    mine = {_s(a) for ids in listed for a in ids} | {a for i in chunk for a in known.get(i, [])}
    params = {
        "citizen": citizen,
        "erasure": erasure,
        "incidents": [{"id": i, "alerts": known.get(i, [])} for i in chunk],
        "places": {a: places[a] for a in mine if a in places},
    }
    result = await scripts["erase_incidents"](
        keys=ctx.script_keys([ctx.keys.incident(i) for i in chunk]),
        args=[ctx.to_json(), orjson.dumps(params)],
    )
    return [_s(v) for v in result[0::2]]


async def _delete_alerts(redis: RedisLike, keys: TenantKeys, alerts: list[str]) -> int:
    deleted = 0
    for start in range(0, len(alerts), ALERT_CHUNK):
        chunk = alerts[start : start + ALERT_CHUNK]
        # Two idempotent deletions (a cut-short erasure is finished by running it again).
        async with redis.pipeline(transaction=False) as pipe:
            pipe.delete(*(keys.alert(a) for a in chunk))
            pipe.zrem(keys.open311_requests, *chunk)
            removed, _ = await pipe.execute()
        deleted += int(removed)
    return deleted


async def _delete_own_keys(redis: RedisLike, keys: TenantKeys, citizen: str) -> int:
    own = [
        keys.inbox("citizen", citizen),
        keys.alert_rate(citizen),
        keys.message_rate("citizen", citizen),
        keys.neighbour_cells(citizen),
    ]
    for pattern in (keys.match_idempotency(citizen), keys.match_replies(citizen)):
        async for page in scan_keys(redis, pattern):
            own += page
    deleted = 0
    for start in range(0, len(own), SCAN_COUNT):
        deleted += int(await redis.delete(*own[start : start + SCAN_COUNT]))
    return deleted


async def _delete_entries(redis: RedisLike, keys: TenantKeys, trace: ErasureTrace) -> int:
    """Delete the stream entries that carry the resident's data; how many."""
    streams = [keys.events]
    async for page in scan_keys(redis, keys.match_inboxes("unit"), "stream"):
        streams += page
    deleted = 0
    for stream in streams:
        after = "-"
        while True:
            entries: Any = await redis.xrange(stream, min=after, max="+", count=STREAM_PAGE)
            doomed = [_s(i) for i, f in entries if _reveals(trace, f)]
            if doomed:
                deleted += int(await redis.xdel(stream, *doomed))
            if len(entries) < STREAM_PAGE:
                break
            after = "(" + _s(entries[-1][0])
    return deleted


def _reveals(trace: ErasureTrace, fields: Mapping[bytes, bytes]) -> bool:
    to = fields.get(b"to")
    try:
        body = orjson.loads(fields.get(b"d", b"{}"))
    except orjson.JSONDecodeError:
        return False
    return trace.reveals(_s(to) if to else None, body if isinstance(body, dict) else {})


async def _log(redis: RedisLike, keys: TenantKeys, report: ErasureReport) -> None:
    entry = {k: v for k, v in report.to_json().items() if k != "tenant"}
    await redis.xadd(keys.erasures, {"d": orjson.dumps(entry)})
