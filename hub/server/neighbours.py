"""Handlers of the neighbours' feed: opting in, "me too", publishing
(the rules: hub/core/neighbours.py)."""

from __future__ import annotations

from typing import Any

from hub.core.coverage import cells_overlap
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.lifecycle import ALERT_RECEIVED
from hub.core.messages import IncidentPublish, NeighbourCorroborate, NeighboursFollow
from hub.core.neighbours import NEIGHBOUR_CELLS_MAX, NEIGHBOURS_SNAPSHOT_MAX
from hub.core.offsets import offset_key
from hub.core.stats import stamp_of
from hub.server.commands import ladders
from hub.server.dispatch import handles
from hub.server.handlers import now_ms
from hub.server.node import EVENTS, Node, TenantRuntime
from hub.server.recommending import session_context
from hub.server.session import Session
from hub.store.neighbours import published_snapshot, save_cells

__all__ = ["neighbours_snapshot"]


async def neighbours_snapshot(node: Node, session: Session, rt: TenantRuntime) -> dict[str, Any]:
    """The published live incidents of the session's cells, and the offset they are at."""
    offset, views = await published_snapshot(node.store.scripts, rt.keys, NEIGHBOURS_SNAPSHOT_MAX)
    mine = [v for v in views if cells_overlap(session.neighbour_cells, (v["cell"],))]
    session.protocol.events_floor = max(session.protocol.events_floor, offset_key(offset))
    return {"type": "neighbours", "incidents": mine, "stream": EVENTS, "offset": offset}


@handles(NeighboursFollow)
async def follow(node: Node, session: Session, msg: NeighboursFollow) -> dict[str, Any]:
    """Opt in to the neighbours' feed of these cells (none: opt out); kept in Redis."""
    rt = node.runtime(session)
    if len(msg.cells) > NEIGHBOUR_CELLS_MAX:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"cells: at most {NEIGHBOUR_CELLS_MAX}")
    if msg.cells and not any(rt.area.contains_cell(c) for c in msg.cells):
        raise ProtocolError(ErrorCode.OUT_OF_AREA, "none of these cells is in the town")
    ttl_s = rt.config.retention_days * 86_400
    # Entries arriving while the snapshot is read wait until the reply is out (the
    # caller's catch_up): one newer than the snapshot must not be overwritten by it.
    session.protocol.hold()
    await save_cells(node.store.redis, rt.keys, session.sub, msg.cells, ttl_s)
    node.set_neighbours(session, msg.cells)
    snapshot = await neighbours_snapshot(node, session, rt)
    # A reply, not a stream message: without stream and offset (the next `neighbour`
    # entries carry them; a session without one gets a snapshot at its next hello).
    return {"type": "neighbours", "ref": msg.ref, "incidents": snapshot["incidents"]}


@handles(NeighbourCorroborate)
async def corroborate(node: Node, session: Session, msg: NeighbourCorroborate) -> dict[str, Any]:
    """A neighbour's "me too": a report of a published incident, by a distinct person."""
    rt = node.runtime(session)
    now = now_ms()
    stamp = stamp_of(now, rt.config.timezone, "")
    rate = rt.config.alert_rate_limit
    params = {
        "incident": msg.incident,
        "citizen": session.sub,
        "ladders": ladders(rt),
        "rate_key": rt.keys.alert_rate(session.sub),
        "rate_n": rate.count,
        "rate_window_ms": int(rate.per_s * 1000),
        "stats_day": stamp.day,
        "stats_how": stamp.how,
    }
    alert, incident = await node.dispatch.run(
        "corroborate", session_context(node, session, msg, now), params
    )
    node.metrics.alerts_acked += 1
    return {
        "type": "alert.ack", "ref": msg.ref, "alert": alert, "incident": incident,
        "status": ALERT_RECEIVED, "at": now,
    }  # fmt: skip


@handles(IncidentPublish)
async def publish(node: Node, session: Session, msg: IncidentPublish) -> None:
    """The control room publishes an incident to its neighbours, or unpublishes it."""
    params = {"incident": msg.incident, "published": msg.published}
    await node.dispatch.run("publish", session_context(node, session, msg, now_ms()), params)
