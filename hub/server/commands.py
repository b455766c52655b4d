"""Handlers of control-room console commands: assign, update, merge, notice,
recommend, history. Every command is checked against the session's tenant (all
keys are the tenant's own) and role (the codec's role table)."""

from __future__ import annotations

from typing import Any

import h3

from hub.core import lifecycle
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.messages import (
    ClientMessage,
    DispatchAssign,
    IncidentHistory,
    IncidentMerge,
    IncidentRecommend,
    IncidentUpdate,
    Notice,
)
from hub.core.priority import LADDER_LEN, base_score, corroboration_ladder
from hub.server.dispatch import handles
from hub.server.handlers import now_ms
from hub.server.node import Node, TenantRuntime
from hub.server.recommending import rank_for, session_context
from hub.server.session import Session
from hub.store.dispatch import LifecycleContext

__all__ = ["ladders"]

# An operator's status → the lifecycle action it is.
UPDATE_ACTIONS = {"acknowledged": "acknowledge", "closed": "close", "rejected": "reject"}


def _ctx(
    node: Node, session: Session, msg: ClientMessage
) -> tuple[TenantRuntime, LifecycleContext]:
    return node.runtime(session), session_context(node, session, msg, now_ms())


async def _incident(
    node: Node, rt: TenantRuntime, incident_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    found = await node.dispatch.incident(rt.keys, incident_id)
    if found is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such incident")
    return found


def ladders(rt: TenantRuntime) -> dict[str, list[tuple[int, float]]]:
    """Every category's corroboration ladder (for scripts that regroup reporters)."""
    return {cid: corroboration_ladder(c.priority) for cid, c in rt.config.categories.items()}


def transition(action: str) -> dict[str, Any]:
    """The script parameters of a lifecycle action: allowed sources, target, notices."""
    target = lifecycle.INCIDENT_TRANSITIONS[action][1]
    alert_status = lifecycle.ALERT_STATUS_FOR.get(target)
    return {
        "action": action,
        "allowed": sorted(lifecycle.sources(action)),
        "target": target,
        "retire": target in lifecycle.TERMINAL,
        "alert_status": alert_status,
        "alert_note": lifecycle.ALERT_STATUS_NOTES.get(alert_status or ""),
        "stage": lifecycle.STAGE_OF.get(action),
        "outcome": lifecycle.OUTCOME_OF.get(action),
    }


@handles(DispatchAssign)
async def assign(node: Node, session: Session, msg: DispatchAssign) -> dict[str, Any]:
    """Offer an incident to a unit; answered with ok and the assignment id."""
    rt, ctx = _ctx(node, session, msg)
    timeout_s = msg.timeout_s or rt.config.assignment_timeout_s
    params = {
        "incident": msg.incident,
        "unit": msg.unit,
        "timeout_ms": timeout_s * 1000,
        "allowed": sorted(lifecycle.WAITING),
    }
    assignment, expires_at = await node.dispatch.run("assign", ctx, params)
    return {"type": "ok", "ref": msg.ref, "assignment": assignment, "expires_at": int(expires_at)}


@handles(IncidentUpdate)
async def update(node: Node, session: Session, msg: IncidentUpdate) -> None:
    """Set priority, acknowledge, close or reject, with a note for the audit trail."""
    _, ctx = _ctx(node, session, msg)
    params: dict[str, Any] = {
        "incident": msg.incident,
        "note": msg.note,
    }
    if msg.priority is not None:
        params["priority"] = msg.priority
        params["scores"] = [base_score(msg.priority, n) for n in range(1, LADDER_LEN + 1)]
    if msg.status is not None:
        params.update(transition(UPDATE_ACTIONS[msg.status]))
    await node.dispatch.run("incident_update", ctx, params)


@handles(IncidentMerge)
async def merge(node: Node, session: Session, msg: IncidentMerge) -> None:
    """Merge duplicates into one incident; their reporters follow the target."""
    rt, ctx = _ctx(node, session, msg)
    params = {
        "into": msg.into,
        "from": list(msg.sources),
        "ladders": ladders(rt),
        "alert_note": lifecycle.ALERT_STATUS_NOTES["merged"],
        "outcome": lifecycle.OUTCOME_OF["merge"],
    }
    await node.dispatch.run("merge", ctx, params)


@handles(Notice)
async def notice(node: Node, session: Session, msg: Notice) -> dict[str, Any]:
    """Broadcast a notice to the citizens connected in (or following) these cells.

    Idempotent by `ref` like the lifecycle commands: a retry gets the same notice
    id, and the citizens get the notice once. The notice is kept until it
    expires, for its CAP document and the Atom feed (hub.server.interop).
    """
    rt, ctx = _ctx(node, session, msg)
    hub_res = node.config.hub.h3_resolution
    if any(h3.get_resolution(c) > hub_res for c in msg.cells):
        raise ProtocolError(
            ErrorCode.BAD_REQUEST, f"cells: finer than the hub resolution {hub_res}"
        )
    if not any(rt.area.contains_cell(c) for c in msg.cells):
        raise ProtocolError(ErrorCode.OUT_OF_AREA, "none of these cells is in the town")
    expires_s = msg.expires_s or rt.config.notice_expires_s
    params = {
        "cells": list(msg.cells),
        "text": msg.text,
        "severity": msg.severity,
        "expires_ms": expires_s * 1000,
    }
    (notice_id,) = await node.dispatch.run("notice", ctx, params)
    return {"type": "ok", "ref": msg.ref, "notice": notice_id}


@handles(IncidentRecommend)
async def recommend(node: Node, session: Session, msg: IncidentRecommend) -> dict[str, Any]:
    """Rank units for an incident, answered to the asking console only."""
    rt = node.runtime(session)
    incident, _ = await _incident(node, rt, msg.incident)
    ranked = rank_for(node, rt, incident)
    return {
        "type": "recommendation",
        "ref": msg.ref,
        "incident": msg.incident,
        "units": [r.to_wire() for r in ranked],
        "at": now_ms(),
    }


@handles(IncidentHistory)
async def history(node: Node, session: Session, msg: IncidentHistory) -> dict[str, Any]:
    """The incident's audit trail, oldest first."""
    _, entries = await _incident(node, node.runtime(session), msg.incident)
    return {
        "type": "incident.history",
        "ref": msg.ref,
        "incident": msg.incident,
        "entries": entries,
    }
