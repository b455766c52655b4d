"""The patrol-unit role: position, status, sector, assignments, incident progress."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from clients.codec import Message
from clients.connection import Connection
from clients.errors import raise_for_error
from clients.model import Incident, object_id

__all__ = ["Unit"]


class Unit(Connection):
    """A patrol unit's tablet: `Connection` plus the unit's messages.

    Attributes:
        incidents: Open incidents of the unit's coverage, by id (from the
            snapshot and `incident` events).
        assignments: Assignments offered to this unit and not yet answered, by id
            (the `assignment` messages).
    """

    expected_role = "unit"
    snapshot_on_start = True

    def __init__(self, url: str, token: str, **options: Any) -> None:
        super().__init__(url, token, **options)
        self.incidents: dict[str, Incident] = {}
        self.assignments: dict[str, Message] = {}
        self.add_listener(self._observe)

    async def position(
        self, lat: float, lon: float, *, at: int | None = None, timeout: float | None = None
    ) -> None:
        """Send a position fix (no reply: positions are state, the next one supersedes it)."""
        at = time.time_ns() // 1_000_000 if at is None else at
        await self.send({"type": "unit.position", "lat": lat, "lon": lon, "at": at}, timeout)

    async def status(self, status: str, timeout: float | None = None) -> Message:
        """Set the unit's status (available, en_route, on_scene, busy, off_duty).

        Raises:
            HubError: The hub refused it.
        """
        return raise_for_error(
            await self.request({"type": "unit.status", "status": status}, timeout)
        )

    async def cover(self, cells: Iterable[str], timeout: float | None = None) -> Message:
        """Set the unit's sector: H3 cells at any resolution up to the hub's.

        Raises:
            HubError: The hub refused it.
        """
        return raise_for_error(await self.request({"type": "cover", "cells": list(cells)}, timeout))

    async def accept(
        self, assignment: str | Mapping[str, Any], timeout: float | None = None
    ) -> Message:
        """Accept an assignment (its id or its `assignment` message).

        Raises:
            HubError: The hub refused it (e.g. the offer expired: `conflict`).
        """
        assignment_id = object_id(assignment, "assignment")
        reply = raise_for_error(
            await self.request({"type": "assignment.accept", "assignment": assignment_id}, timeout)
        )
        self.assignments.pop(assignment_id, None)
        return reply

    async def decline(
        self, assignment: str | Mapping[str, Any], reason: str = "", timeout: float | None = None
    ) -> Message:
        """Decline an assignment, saying why.

        Raises:
            HubError: The hub refused it.
        """
        assignment_id = object_id(assignment, "assignment")
        message = {"type": "assignment.decline", "assignment": assignment_id, "reason": reason}
        reply = raise_for_error(await self.request(message, timeout))
        self.assignments.pop(assignment_id, None)
        return reply

    async def incident_status(
        self,
        incident: str | Mapping[str, Any] | Incident,
        status: str,
        note: str = "",
        timeout: float | None = None,
    ) -> Message:
        """Report progress on an incident: `on_scene` or `resolved`.

        Raises:
            HubError: The hub refused it.
        """
        message = {
            "type": "incident.status", "incident": object_id(incident), "status": status,
            "note": note,
        }  # fmt: skip
        return raise_for_error(await self.request(message, timeout))

    def _observe(self, message: Message) -> None:
        kind = message["type"]
        if kind == "snapshot":
            self.incidents = {
                i.id: i
                for i in map(Incident.from_wire, message.get("incidents") or ())
                if i.is_open
            }
        elif kind == "incident":
            incident = Incident.from_wire(message["incident"])
            if incident.is_open:
                self.incidents[incident.id] = incident
            else:
                self.incidents.pop(incident.id, None)
        elif kind == "assignment" and isinstance(message.get("assignment"), str):
            self.assignments[message["assignment"]] = message
