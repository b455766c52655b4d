"""Local models built from pushed messages: incidents, the unit board, assignments.

Pure and synchronous: `ConsoleModel.apply` takes one message and updates the
model, so it can be a connection listener and be tested without a socket.
Rule: a `snapshot` replaces the state it carries; a `reset` marks the model
stale until that snapshot arrives (protocol.md, Recovery).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from clients.codec import Message

__all__ = [
    "TERMINAL_STATUSES",
    "AssignmentState",
    "ConsoleModel",
    "Incident",
    "UnitState",
    "object_id",
]

# An incident in one of these statuses has left the queue of open work.
TERMINAL_STATUSES: Final = frozenset({"resolved", "closed", "rejected", "merged", "cancelled"})


def object_id(value: str | Mapping[str, Any] | Incident, key: str = "id") -> str:
    """The id of an incident/assignment given as an id, a wire map or an `Incident`.

    A wire map is read at `key` ("assignment" for an `assignment` message),
    falling back to "id".
    """
    if isinstance(value, str):
        return value
    if isinstance(value, Incident):
        return value.id
    found = value.get(key, value.get("id"))
    if not isinstance(found, str):
        raise ValueError(f"no {key!r} id in {sorted(value)}")
    return found


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as the hub last described it."""

    id: str
    category: str
    priority: int
    score: float
    cell: str
    lat: float
    lon: float
    status: str
    reports: int
    text: str = ""
    opened_at: int = 0
    updated_at: int = 0
    unit: str | None = None
    merged_into: str | None = None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Incident:
        """Build from the `incident` map of an `incident` event or a snapshot."""
        return cls(
            id=str(raw["id"]),
            category=str(raw.get("category", "other")),
            priority=int(raw.get("priority") or 5),
            score=float(raw.get("score") or 0.0),
            cell=str(raw.get("cell", "")),
            lat=float(raw.get("lat") or 0.0),
            lon=float(raw.get("lon") or 0.0),
            status=str(raw.get("status", "open")),
            reports=int(raw.get("reports") or 1),
            text=str(raw.get("text") or ""),
            opened_at=int(raw.get("opened_at") or 0),
            updated_at=int(raw.get("updated_at") or 0),
            unit=_opt_str(raw.get("unit")),
            merged_into=_opt_str(raw.get("merged_into")),
        )

    @property
    def is_open(self) -> bool:
        """True while the incident still needs work (not resolved, closed, ...)."""
        return self.status not in TERMINAL_STATUSES

    def rank(self) -> tuple[int, float, int, str]:
        """Sort key of the queue: most urgent priority, then highest score, then oldest."""
        return (self.priority, -self.score, self.opened_at, self.id)


@dataclass(frozen=True, slots=True)
class UnitState:
    """A patrol unit on the board."""

    id: str
    status: str = "off_duty"
    online: bool = False
    lat: float | None = None
    lon: float | None = None
    cell: str | None = None
    last_seen: int | None = None
    sector: tuple[str, ...] = ()

    def updated(self, raw: Mapping[str, Any]) -> UnitState:
        """This state with the fields present in a `unit` map applied.

        Position events carry no sector: what a message omits is kept.
        """
        changes: dict[str, Any] = {}
        if isinstance(raw.get("status"), str):
            changes["status"] = raw["status"]
        if isinstance(raw.get("online"), bool):
            changes["online"] = raw["online"]
        for name in ("lat", "lon"):
            if (number := _opt_float(raw.get(name))) is not None:
                changes[name] = number
        if (cell := _opt_str(raw.get("cell"))) is not None:
            changes["cell"] = cell
        if isinstance(raw.get("last_seen"), int):
            changes["last_seen"] = raw["last_seen"]
        if isinstance(raw.get("sector"), list):
            changes["sector"] = tuple(str(c) for c in raw["sector"])
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class AssignmentState:
    """The last known state of an assignment (offered, accepted, declined, ...)."""

    assignment: str
    incident: str
    unit: str
    state: str
    reason: str = ""
    at: int = 0

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> AssignmentState:
        """Build from an `assignment.state` message."""
        return cls(
            assignment=str(raw.get("assignment", "")),
            incident=str(raw.get("incident", "")),
            unit=str(raw.get("unit", "")),
            state=str(raw.get("state", "")),
            reason=str(raw.get("reason") or ""),
            at=int(raw.get("at") or 0),
        )


class ConsoleModel:
    """A control room's live picture: open incidents, unit board, assignments.

    Attributes:
        incidents: Open incidents by id (terminal ones are removed).
        units: The unit board by unit id.
        assignments: The last state of each assignment by id.
        recommendations: Recommended units per incident id, best first.
        stale: True between a `reset` and the snapshot that follows it.
        applied: Messages that changed the model.
    """

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.units: dict[str, UnitState] = {}
        self.assignments: dict[str, AssignmentState] = {}
        self.recommendations: dict[str, tuple[Mapping[str, Any], ...]] = {}
        self.stale = False
        self.applied = 0
        self._appliers: dict[str, Callable[[Message], None]] = {
            "snapshot": self._snapshot,
            "reset": self._reset,
            "incident": self._incident,
            "unit": self._unit,
            "assignment.state": self._assignment_state,
            "recommendation": self._recommendation,
        }

    def apply(self, message: Message) -> bool:
        """Update the model from one message; False when the message does not concern it."""
        applier = self._appliers.get(message.get("type", ""))
        if applier is None:
            return False
        applier(message)
        self.applied += 1
        return True

    def ranked(self) -> list[Incident]:
        """Open incidents, most urgent first (priority, then score, then age)."""
        return sorted(self.incidents.values(), key=Incident.rank)

    def available_units(self) -> list[UnitState]:
        """Online units whose status is `available`, by id."""
        return sorted(
            (u for u in self.units.values() if u.online and u.status == "available"),
            key=lambda u: u.id,
        )

    def _snapshot(self, message: Message) -> None:
        incidents = (Incident.from_wire(i) for i in message.get("incidents") or ())
        self.incidents = {i.id: i for i in incidents if i.is_open}
        units = (UnitState(str(u["id"])).updated(u) for u in message.get("units") or ())
        self.units = {u.id: u for u in units}
        offers = message.get("offers")
        if isinstance(offers, list):  # (added) the offers pending now; an older hub sends none
            # An offer known as pending but not listed ended while we were away (how, the
            # snapshot does not say): it is no longer shown as offered.
            self.assignments = {a: s for a, s in self.assignments.items() if s.state != "offered"}
            for raw in offers:
                if isinstance(raw, Mapping):
                    state = AssignmentState.from_wire(raw)
                    self.assignments[state.assignment] = state
        self.stale = False

    def _reset(self, message: Message) -> None:
        self.stale = True

    def _incident(self, message: Message) -> None:
        incident = Incident.from_wire(message["incident"])
        if incident.is_open:
            self.incidents[incident.id] = incident
        else:
            self.incidents.pop(incident.id, None)

    def _unit(self, message: Message) -> None:
        raw = message.get("unit") or {}
        unit_id = raw.get("id")
        if isinstance(unit_id, str):
            self.units[unit_id] = self.units.get(unit_id, UnitState(unit_id)).updated(raw)

    def _assignment_state(self, message: Message) -> None:
        state = AssignmentState.from_wire(message)
        self.assignments[state.assignment] = state

    def _recommendation(self, message: Message) -> None:
        units = message.get("units") or []
        self.recommendations[str(message.get("incident"))] = tuple(
            u for u in units if isinstance(u, Mapping)
        )
