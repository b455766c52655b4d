"""Retention run now: every kind of record past its configured period goes.

Most records expire by themselves (Redis TTLs set when an incident closes, an
inbox is written, an idempotency record is made). What a TTL cannot do is done
here: trim streams by age (the tenant stream, inboxes, the erasure log), drop
old entries of the Open311 index, forget the last position of a unit that
stopped sending, and apply a shortened period to closed incidents already
stored (purge_incident.lua). `vigie purge` runs it at once; the hub runs it
hourly (hub/server/timers.py). Idempotent and bounded (SCAN by pages).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from redis.exceptions import ResponseError

from hub.config import Retention
from hub.store.client import RedisLike
from hub.store.erasure import scan_keys
from hub.store.keys import TenantKeys
from hub.store.scripts import ScriptSet

log = logging.getLogger("vigie.retention")

__all__ = ["PurgeReport", "purge_tenant"]

DAY_MS = 86_400_000
UNIT_POSITION = ("lat", "lon", "cell")


@dataclass(slots=True)
class PurgeReport:
    """How many records of each kind a purge removed."""

    tenant: str
    incidents: int = 0  # closed incidents deleted, with their alerts
    incidents_kept: int = 0  # closed incidents within their period (expiry set)
    events: int = 0  # tenant-stream entries
    inbox_entries: int = 0
    open311: int = 0  # entries of the Open311 index
    unit_positions: int = 0
    erasure_log: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as `vigie purge` prints it."""
        return asdict(self)


def _cutoff(now_ms: int, days: int) -> int:
    return now_ms - days * DAY_MS


async def purge_tenant(
    redis: RedisLike, scripts: ScriptSet, keys: TenantKeys, retention: Retention, now_ms: int
) -> PurgeReport:
    """Apply `retention` to one tenant's records now."""
    report = PurgeReport(keys.tenant)
    await _incidents(redis, scripts, keys, retention, now_ms, report)
    report.events = await _trim(redis, keys.events, _cutoff(now_ms, retention.events_days))
    report.erasure_log = await _trim(
        redis, keys.erasures, _cutoff(now_ms, retention.erasure_log_days)
    )
    inbox_cutoff = _cutoff(now_ms, retention.inbox_days)
    async for page in scan_keys(redis, keys.match_scheme("inbox"), "stream"):
        for inbox in page:
            report.inbox_entries += await _trim(redis, inbox, inbox_cutoff)
    report.open311 = int(
        await redis.zremrangebyscore(
            keys.open311_requests, "-inf", _cutoff(now_ms, retention.open311_days)
        )
    )
    report.unit_positions = await _unit_positions(
        redis, keys, _cutoff(now_ms, retention.unit_positions_days)
    )
    return report


async def _incidents(
    redis: RedisLike,
    scripts: ScriptSet,
    keys: TenantKeys,
    retention: Retention,
    now_ms: int,
    report: PurgeReport,
) -> None:
    periods = [retention.incidents_days * DAY_MS, retention.audit_days * DAY_MS]
    async for page in scan_keys(redis, keys.match_scheme("incident"), "hash"):
        for key in page:
            incident_id = keys.id_in("incident", key)
            try:
                family = [
                    key,
                    keys.incident_reporters(incident_id),
                    keys.incident_alerts(incident_id),
                    keys.history(incident_id),
                ]
                outcome = await scripts["purge_incident"](
                    keys=family, args=[keys.prefix, incident_id, now_ms, *periods]
                )
            except ResponseError as exc:  # a record of the wrong shape: skip it, go on
                log.warning("retention: incident %s skipped: %s", incident_id, exc)
                continue
            if outcome == b"deleted":
                report.incidents += 1
            elif outcome == b"kept":
                report.incidents_kept += 1


async def _trim(redis: RedisLike, stream: str, cutoff_ms: int) -> int:
    """Drop a stream's entries older than `cutoff_ms` (their ids are their times)."""
    if cutoff_ms <= 0:
        return 0
    removed: Any = await redis.xtrim(stream, minid=f"{cutoff_ms}-0", approximate=False)
    return int(removed)


def _seen_before(unit_id: str, row: Any, cutoff_ms: int) -> bool:
    """Whether a unit's row holds a position last heard of before `cutoff_ms`.

    A bad record (a key of the wrong type, garbage times) is left alone and logged:
    retention must not stop on it (docs/guarantees.md, bad data).
    """
    if isinstance(row, Exception):
        log.warning("retention: unit %s skipped: %s", unit_id, row)
        return False
    last, seen, lat = row
    try:
        return lat is not None and max(int(last or 0), int(seen or 0)) < cutoff_ms
    except ValueError:
        log.warning("retention: unit %s skipped: times are not numbers", unit_id)
        return False


async def _unit_positions(redis: RedisLike, keys: TenantKeys, cutoff_ms: int) -> int:
    """Forget the last position of units not heard from since `cutoff_ms`."""
    members: Any = await redis.smembers(keys.units)
    units = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
    async with redis.pipeline(transaction=False) as pipe:
        for unit_id in units:
            pipe.hmget(keys.unit(unit_id), "last_seen", "seen_at", "lat")
        rows = await pipe.execute(raise_on_error=False)
    stale = [u for u, row in zip(units, rows, strict=True) if _seen_before(u, row, cutoff_ms)]
    async with redis.pipeline(transaction=False) as pipe:
        for unit_id in stale:
            pipe.hdel(keys.unit(unit_id), *UNIT_POSITION)
        await pipe.execute()
    return len(stale)
