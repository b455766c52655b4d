"""Handlers of citizen and patrol-unit messages (console commands: commands.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import h3

from hub.config import TenantConfig
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.geo import cell_of, ring_cells
from hub.core.lifecycle import ALERT_RECEIVED
from hub.core.messages import AlertSubmit, CitizenFollow, Cover, UnitPosition, UnitStatus
from hub.core.priority import corroboration_ladder
from hub.core.stats import stamp_of
from hub.server.dispatch import handles
from hub.server.node import Node, TenantRuntime
from hub.server.recommending import needs_recommendation, recommend_and_dispatch
from hub.server.session import Session
from hub.store.store import APP, Intake

__all__ = ["StoredAlert", "stats_args", "store_alert"]

POSITION_THROTTLE_MS = 1000  # consoles get at most one position per unit per second


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (the protocol's `at`)."""
    return time.time_ns() // 1_000_000


# -- citizens ---------------------------------------------------------------------------


@handles(AlertSubmit)
async def submit_alert(node: Node, session: Session, msg: AlertSubmit) -> dict[str, Any]:
    """Validate against the tenant, store atomically, then ack."""
    outcome = await store_alert(node, node.runtime(session), session.sub, msg)
    node.set_follow(session, alert_cell=outcome.cell)  # notices for where it last reported
    return {
        "type": "alert.ack", "ref": msg.ref, "alert": outcome.alert,
        "incident": outcome.incident, "status": ALERT_RECEIVED, "at": outcome.at,
    }  # fmt: skip


def stats_args(tenant: TenantConfig, cell: str, at_ms: int, category: str = "") -> dict[str, Any]:
    """What submit_alert.lua needs to count an alert of `category` received at `at_ms` in
    `cell` (and to publish it to the neighbours when the town publishes that category)."""
    area = h3.cell_to_parent(cell, min(tenant.public_resolution, h3.get_resolution(cell)))
    stamp = stamp_of(at_ms, tenant.timezone, area)
    return {
        "day": stamp.day,
        "how": stamp.how,
        "area": stamp.area,
        "ttl_s": tenant.stats.retention_days * 86_400,
        "recurrence_ms": tenant.stats.recurrence_days * 86_400_000,
        "publish": category in tenant.neighbours_publish,
    }


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert the store holds (new, or the earlier one of a re-sent `ref`)."""

    alert: str
    incident: str
    at: int
    cell: str


async def store_alert(
    node: Node, rt: TenantRuntime, citizen: str, msg: AlertSubmit, intake: Intake = APP
) -> StoredAlert:
    """The one path of every alert, whoever sends it (a citizen's session, an Open311
    partner): the tenant's checks, then one atomic script (idempotency, rate limits,
    grouping, priority, the incident event that fans out), then recommendations.
    Raises ProtocolError for what the tenant refuses."""
    tenant = rt.config
    category = tenant.categories.get(msg.category)
    if category is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"category: unknown {msg.category[:40]!r}")
    if len(msg.text) > tenant.text_max_chars:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"text: longer than {tenant.text_max_chars}")
    if not rt.area.contains(msg.lat, msg.lon):
        raise ProtocolError(ErrorCode.OUT_OF_AREA, f"the point is outside {tenant.name}")
    cell = cell_of(msg.lat, msg.lon, node.config.hub.h3_resolution)
    rate = tenant.alert_rate_limit
    now = now_ms()
    outcome = await node.store.submit_alert(
        rt.keys,
        citizen=citizen, ref=msg.ref, category=msg.category, lat=msg.lat, lon=msg.lon,
        cell=cell, text=msg.text, accuracy_m=msg.accuracy_m, now_ms=now,
        candidates=ring_cells(cell, tenant.group_k), group_window_s=tenant.group_window_s,
        rate=(rate.count, rate.per_s), ladder=corroboration_ladder(category.priority),
        intake=intake, stats=stats_args(tenant, cell, now, msg.category),
    )  # fmt: skip
    if outcome.kind == "rate":
        whose = "this partner" if outcome.limited_by == "channel" else "this reporter"
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"too many alerts from {whose}; try again later",
            retry_after_s=outcome.retry_after_s,
        )
    node.metrics.alerts_acked += 1
    if outcome.event is not None and needs_recommendation(outcome.event["incident"]):
        job = recommend_and_dispatch(node, rt, outcome.event["incident"], outcome.at)
        node.background(job, f"recommend:{outcome.incident}")
    return StoredAlert(outcome.alert, outcome.incident, outcome.at, cell)


@handles(CitizenFollow)
async def follow(node: Node, session: Session, msg: CitizenFollow) -> None:
    """Remember which cells a citizen wants notices for (this connection only)."""
    rt = node.runtime(session)
    if msg.cells and not any(rt.area.contains_cell(c) for c in msg.cells):
        raise ProtocolError(ErrorCode.OUT_OF_AREA, "none of these cells is in the town")
    node.set_follow(session, msg.cells)


# -- patrol units -----------------------------------------------------------------------


@handles(UnitPosition)
async def unit_position(node: Node, session: Session, msg: UnitPosition) -> None:
    """Save the position (never refused for being out of town); coverage follows."""
    rt = node.runtime(session)
    cell = cell_of(msg.lat, msg.lon, node.config.hub.h3_resolution)
    at = msg.at or now_ms()
    await node.store.unit_update(
        rt.keys, session.sub, "position",
        {"lat": repr(msg.lat), "lon": repr(msg.lon), "cell": cell, "last_seen": at},
        throttle_ms=POSITION_THROTTLE_MS,
    )  # fmt: skip
    node.set_unit_state(rt, session.sub, cell=cell)


@handles(UnitStatus)
async def unit_status(node: Node, session: Session, msg: UnitStatus) -> None:
    """Save and broadcast a unit's status."""
    rt = node.runtime(session)
    await node.store.unit_update(
        rt.keys, session.sub, "status", {"status": msg.status, "last_seen": now_ms()}, acked=True
    )


@handles(Cover)
async def cover(node: Node, session: Session, msg: Cover) -> None:
    """Set the unit's sector (cells at any resolution up to the hub's)."""
    rt = node.runtime(session)
    hub_res = node.config.hub.h3_resolution
    finer = [c for c in msg.cells if h3.get_resolution(c) > hub_res]
    if finer:
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"cells: {finer[0]} is finer than the hub resolution {hub_res}"
        )
    if msg.cells and not any(rt.area.contains_cell(c) for c in msg.cells):
        raise ProtocolError(ErrorCode.OUT_OF_AREA, "none of these cells is in the town")
    sector = list(msg.cells)
    await node.store.unit_update(
        rt.keys,
        session.sub,
        "coverage",
        {"sector": json.dumps(sector), "last_seen": now_ms()},
        acked=True,
    )
    node.set_unit_state(rt, session.sub, sector=sector)
