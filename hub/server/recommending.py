"""Recommendations (and optional auto-dispatch) after an incident needs a unit.

Sent to every console of the tenant through the stream, so consoles on every
process see it: unasked for new priority 1-2 incidents, and after an
assignment is declined or expires (excluding the unit that let it go).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from hub.core import lifecycle, priority
from hub.core.errors import ProtocolError
from hub.core.messages import ClientMessage
from hub.core.recommend import Recommendation, rank_units
from hub.server.node import Node, TenantRuntime
from hub.server.session import Session
from hub.store.dispatch import LifecycleContext

__all__ = [
    "AUTO_DISPATCH_PRIORITY",
    "lifecycle_context",
    "needs_recommendation",
    "rank_for",
    "recommend_and_dispatch",
    "session_context",
]

log = logging.getLogger("vigie.recommend")

RECOMMEND_UP_TO_PRIORITY = 2  # new incidents this urgent get a recommendation unasked
AUTO_DISPATCH_PRIORITY = 1  # with the tenant's auto_dispatch on, these go to the top unit
RECOMMEND_TOP = 5  # units in an unasked recommendation


def lifecycle_context(
    node: Node, rt: TenantRuntime, by: str, session: str, now_ms: int
) -> LifecycleContext:
    """The ctx of a lifecycle script for an actor."""
    return LifecycleContext.for_tenant(node.config.hub, rt.config, by, session, now_ms)


def session_context(
    node: Node, session: Session, msg: ClientMessage, now_ms: int
) -> LifecycleContext:
    """The ctx of a lifecycle command sent by a session (idempotent by its `ref`)."""
    rt = node.runtime(session)
    ctx = lifecycle_context(node, rt, session.sub, session.id, now_ms)
    ref = getattr(msg, "ref", None)
    if ref is None:
        return ctx
    key = rt.keys.command_reply(type(msg).__name__, session.sub, ref)
    return replace(ctx, ref_key=key, ref_ttl_s=node.config.hub.idempotency_ttl_s)


def rank_for(
    node: Node,
    rt: TenantRuntime,
    incident: dict[str, Any],
    exclude: tuple[str, ...] = (),
    limit: int | None = None,
) -> list[Recommendation]:
    """Rank the tenant's units for an incident view (from this process's unit board).

    With `limit`, only the best `limit` units (cheaper than ranking them all).
    """
    board = rt.board.values()
    cover_k = rt.config.cover_k
    return rank_units(incident["cell"], board, cover_k=cover_k, exclude=exclude, limit=limit)


def needs_recommendation(incident: dict[str, Any]) -> bool:
    """A waiting P1-P2 incident that is new, or that corroboration just made more urgent."""
    just_raised = incident.get("reporters") in priority.CORROBORATION_STEPS
    return (
        incident.get("priority", 5) <= RECOMMEND_UP_TO_PRIORITY
        and incident.get("status") in lifecycle.WAITING
        and not incident.get("assignment")
        and (incident.get("reports") == 1 or just_raised)
    )


async def recommend_and_dispatch(
    node: Node,
    rt: TenantRuntime,
    incident: dict[str, Any],
    now_ms: int,
    exclude: tuple[str, ...] = (),
) -> None:
    """Emit a recommendation for `incident`; auto-dispatch P1 when the tenant wants it."""
    ranked = rank_for(node, rt, incident, exclude, limit=RECOMMEND_TOP)
    body = {
        "type": "recommendation",
        "incident": incident["id"],
        "units": [r.to_wire() for r in ranked],
        "at": now_ms,
    }
    await node.dispatch.emit(rt.keys, node.config.hub.stream_maxlen, "recommendation", body)
    if not (
        rt.config.auto_dispatch and ranked and incident.get("priority") == AUTO_DISPATCH_PRIORITY
    ):
        return
    ctx = lifecycle_context(node, rt, "hub", "hub", now_ms)
    params = {
        "incident": incident["id"],
        "unit": ranked[0].unit,
        "timeout_ms": rt.config.assignment_timeout_s * 1000,
        "allowed": sorted(lifecycle.WAITING),
        "only_if_unassigned": True,  # never replace an operator's pending offer
    }
    try:
        await node.dispatch.run("assign", ctx, params, acked=False)
    except ProtocolError as exc:  # raced with an operator: theirs stands
        log.info("auto-dispatch of %s skipped: %s", incident["id"], exc.message)
