"""The incident and assignment state machines, as tables.

Rule: every allowed transition is an entry below; a missing entry is an error
that names the state and the action (h11's way). The Lua scripts that change
state atomically are handed the allowed source states from here, so the rules
live in one place and Redis only enforces them.

Incident::

    open ──acknowledge──▶ acknowledged ──accept──▶ dispatched ──on_scene──▶ on_scene
      │                        │                       │                       │
      └──────── close / reject / merge ────────────────┴──── resolve ──────────┴─▶ resolved
    (close/merge from any live state; reject before dispatch; resolve once dispatched)

Assignment: offered ──▶ accepted | declined | expired | cancelled (all final).

The Lua scripts read these tables as generated Lua (hub/store/lua_tables.py):
no state name is written a second time in Lua.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERT_RECEIVED",
    "ALERT_STATUS_FOR",
    "ALERT_STATUS_NOTES",
    "ALERT_WITHDRAWN",
    "ASSIGNMENT_ENDS",
    "INCIDENT_TRANSITIONS",
    "INITIAL",
    "LIVE",
    "OFFERED",
    "OUTCOME_OF",
    "STAGE_OF",
    "TERMINAL",
    "UNIT_STATUS_AFTER",
    "UNIT_UNSEEN",
    "WAITING",
    "WITH_UNIT",
    "TransitionError",
    "next_status",
    "sources",
]

LIVE: Final = frozenset({"open", "acknowledged", "dispatched", "on_scene"})
TERMINAL: Final = frozenset({"resolved", "closed", "rejected", "merged"})
WAITING: Final = frozenset({"open", "acknowledged"})  # in the queue, not yet dispatched
WITH_UNIT: Final = frozenset({"dispatched", "on_scene"})  # a unit is on it
INITIAL: Final = "open"  # a new incident's status

# action → (allowed source states, target state)
INCIDENT_TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "acknowledge": (frozenset({"open"}), "acknowledged"),
    "accept": (WAITING, "dispatched"),
    "on_scene": (frozenset({"dispatched"}), "on_scene"),
    "resolve": (WITH_UNIT, "resolved"),
    "close": (LIVE, "closed"),
    "reject": (WAITING, "rejected"),
    "merge": (LIVE, "merged"),
}

OFFERED: Final = "offered"  # an assignment waiting for its unit's answer

# Assignment endings and who may cause them.
ASSIGNMENT_ENDS: Final = {
    "accept": "accepted",
    "decline": "declined",
    "expire": "expired",
    "cancel": "cancelled",
}

ALERT_RECEIVED: Final = "received"  # an alert's status until its incident moves
ALERT_WITHDRAWN: Final = "cancelled"  # its reporter withdrew it

# What a reporter's alert says when its incident reaches a state. Operators'
# "closed" reads "resolved" to the citizen: the control room dealt with it.
ALERT_STATUS_FOR: Final = {
    "acknowledged": "acknowledged",
    "dispatched": "dispatched",
    "on_scene": "on_scene",
    "resolved": "resolved",
    "closed": "resolved",
    "rejected": "rejected",
    "merged": "merged",
}

# Notes sent to citizens are fixed texts: a unit's or operator's free-text note
# may name an officer or another reporter, so it goes to the audit trail only.
ALERT_STATUS_NOTES: Final = {
    "acknowledged": "Votre signalement a été lu par le centre de supervision.",
    "dispatched": "Une patrouille a été envoyée.",
    "on_scene": "Une patrouille est sur place.",
    "resolved": "L'intervention est terminée. Merci de votre signalement.",
    "rejected": "Ce signalement n'a pas donné lieu à une intervention.",
    "merged": "Votre signalement a été regroupé avec un autre portant sur le même fait.",
    "cancelled": "Votre signalement a été retiré.",
}

# What the statistics count (hub.core.stats): the stage an action reaches (the time
# since the previous stage is measured), and how an incident ends. An operator's
# close ends the stage times like a unit's resolve; its outcome tells them apart.
STAGE_OF: Final = {
    "acknowledge": "acknowledged",
    "accept": "dispatched",
    "on_scene": "on_scene",
    "resolve": "resolved",
    "close": "resolved",
}
OUTCOME_OF: Final = {
    "resolve": "resolved",
    "close": "closed",
    "reject": "rejected",
    "merge": "merged",
    "withdraw": "withdrawn",  # its only reporter withdrew it before dispatch
}

# The unit's status after it does something to an incident ("release": the incident
# no longer needs it: closed, merged or withdrawn under it).
UNIT_STATUS_AFTER: Final = {
    "accept": "en_route",
    "on_scene": "on_scene",
    "resolve": "available",
    "release": "available",
}
UNIT_UNSEEN: Final = "off_duty"  # the status of a unit that never gave one


class TransitionError(ValueError):
    """An action that the incident's current state does not allow."""


def sources(action: str) -> frozenset[str]:
    """The states an incident may be in for `action`."""
    return INCIDENT_TRANSITIONS[action][0]


def next_status(current: str, action: str) -> str:
    """The incident's status after `action`; raises TransitionError naming both."""
    allowed, target = INCIDENT_TRANSITIONS[action]
    if current not in allowed:
        raise TransitionError(f"cannot {action} an incident that is {current}")
    return target
