"""Handlers of the field side of the lifecycle: units answering assignments and
reporting progress, citizens withdrawing their alerts."""

from __future__ import annotations

from typing import Any

from hub.core import lifecycle
from hub.core.messages import AlertCancel, AssignmentAccept, AssignmentDecline, IncidentStatus
from hub.server.commands import ladders, transition
from hub.server.dispatch import handles
from hub.server.handlers import now_ms
from hub.server.node import Node
from hub.server.recommending import recommend_and_dispatch, session_context
from hub.server.session import Session

__all__: list[str] = []

# A unit's report → the lifecycle action it is.
UNIT_ACTIONS = {"on_scene": "on_scene", "resolved": "resolve"}
FINAL_ALERT_STATUSES = ("cancelled", "resolved", "rejected")


@handles(AssignmentAccept)
async def accept(node: Node, session: Session, msg: AssignmentAccept) -> None:
    """The unit takes the incident: dispatched, unit en route, reporters told."""
    ctx = session_context(node, session, msg, now_ms())
    params = {
        "assignment": msg.assignment,
        "state": "accepted",
        "unit": session.sub,
        **transition("accept"),
        "unit_status": lifecycle.UNIT_STATUS_AFTER["accept"],
    }
    await node.dispatch.run("assignment_end", ctx, params)


@handles(AssignmentDecline)
async def decline(node: Node, session: Session, msg: AssignmentDecline) -> None:
    """The unit declines: the incident returns to the queue and the next unit is recommended."""
    now = now_ms()
    ctx = session_context(node, session, msg, now)
    params = {
        "assignment": msg.assignment,
        "state": "declined",
        "unit": session.sub,
        "reason": msg.reason or "declined",
    }
    incident_id, unit = await node.dispatch.run("assignment_end", ctx, params)
    node.background(_recommend_next(node, session, incident_id, unit, now), "recommend")


async def _recommend_next(
    node: Node, session: Session, incident_id: str, unit: str, now: int
) -> None:
    rt = node.runtime(session)
    found = await node.dispatch.incident(rt.keys, incident_id)
    if found is not None:
        await recommend_and_dispatch(node, rt, found[0], now, exclude=(unit,))


@handles(IncidentStatus)
async def incident_status(node: Node, session: Session, msg: IncidentStatus) -> None:
    """The assigned unit is on scene, or has resolved the incident."""
    ctx = session_context(node, session, msg, now_ms())
    action = UNIT_ACTIONS[msg.status]
    params: dict[str, Any] = {
        "incident": msg.incident,
        "unit": session.sub,
        "note": msg.note,
        **transition(action),
        "unit_status": lifecycle.UNIT_STATUS_AFTER[action],
    }
    await node.dispatch.run("unit_incident_status", ctx, params)


@handles(AlertCancel)
async def cancel_alert(node: Node, session: Session, msg: AlertCancel) -> None:
    """A citizen withdraws its own alert."""
    rt = node.runtime(session)
    ctx = session_context(node, session, msg, now_ms())
    params = {
        "alert": msg.alert,
        "citizen": session.sub,
        "ladders": ladders(rt),
        "note": lifecycle.ALERT_STATUS_NOTES["cancelled"],
        "final": FINAL_ALERT_STATUSES,
        "close_note": "withdrawn by its only reporter",
        "outcome": lifecycle.OUTCOME_OF["withdraw"],
    }
    await node.dispatch.run("alert_cancel", ctx, params)
