"""The control-room console role: a live local model and the operator's commands."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from clients.codec import Message
from clients.connection import Connection
from clients.errors import raise_for_error
from clients.model import ConsoleModel, Incident, object_id

__all__ = ["Console"]

IncidentRef = str | Mapping[str, Any] | Incident


class Console(Connection):
    """A control-room console: `Connection` plus a `ConsoleModel` and commands.

    The model is fed by a listener, so it is up to date with every message
    delivered, whether or not anyone reads the mailbox.

    Attributes:
        model: Open incidents, unit board, assignments, recommendations.
        conversations: Each incident (id) → its `message`s with the reporters and
            the `feedback` they gave, oldest first, each once.
    """

    expected_role = "console"
    snapshot_on_start = True

    def __init__(self, url: str, token: str, **options: Any) -> None:
        super().__init__(url, token, **options)
        self.model = ConsoleModel()
        self.conversations: dict[str, list[Message]] = {}
        self._seen: set[tuple[str, str]] = set()
        self.add_listener(self.model.apply)
        self.add_listener(self._observe)

    def _observe(self, message: Message) -> None:
        if message["type"] not in ("message", "feedback"):
            return
        key = (message["type"], str(message.get("message") or message.get("alert")))
        if key not in self._seen and isinstance(message.get("incident"), str):
            self._seen.add(key)
            self.conversations.setdefault(message["incident"], []).append(message)

    async def publish(
        self, incident: IncidentRef, published: bool = True, timeout: float | None = None
    ) -> Message:
        """Publish an incident to its neighbours (category, coarse cell, status), or
        unpublish it with `published=False`.

        Raises:
            HubError: The hub refused it.
        """
        message = {"type": "incident.publish", "incident": object_id(incident),
                   "published": published}  # fmt: skip
        return raise_for_error(await self.request(message, timeout))

    async def write(
        self,
        incident: IncidentRef,
        text: str,
        *,
        alert: str | None = None,
        ref: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Write to the reporters of a live incident (or to one alert's reporter) as
        the control room; returns the `ok` with the `message` id.

        Idempotent by `ref` (generated when omitted) and re-sent after a reconnection.

        Raises:
            HubError: The hub refused it.
        """
        message: Message = {
            "type": "message.send", "ref": ref or uuid.uuid4().hex,
            "incident": object_id(incident), "text": text,
        }  # fmt: skip
        if alert is not None:
            message["alert"] = alert
        return raise_for_error(await self.request(message, timeout, resend=True))

    async def assign(
        self,
        incident: IncidentRef,
        unit: str,
        *,
        timeout_s: int | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Assign an incident to a unit, which must accept within `timeout_s`.

        Raises:
            HubError: The hub refused it.
        """
        message: Message = {
            "type": "dispatch.assign",
            "incident": object_id(incident),
            "unit": unit,
        }
        if timeout_s is not None:
            message["timeout_s"] = timeout_s
        return raise_for_error(await self.request(message, timeout))

    async def update(
        self,
        incident: IncidentRef,
        *,
        priority: int | None = None,
        status: str | None = None,
        note: str = "",
        timeout: float | None = None,
    ) -> Message:
        """Change an incident's priority, status (acknowledged, closed, rejected) or note.

        Raises:
            HubError: The hub refused it.
        """
        message: Message = {"type": "incident.update", "incident": object_id(incident)}
        if priority is not None:
            message["priority"] = priority
        if status is not None:
            message["status"] = status
        if note:
            message["note"] = note
        return raise_for_error(await self.request(message, timeout))

    async def merge(
        self, into: IncidentRef, sources: Iterable[IncidentRef], timeout: float | None = None
    ) -> Message:
        """Merge duplicate incidents `sources` into `into`.

        Raises:
            HubError: The hub refused it.
        """
        message = {
            "type": "incident.merge", "into": object_id(into),
            "from": [object_id(s) for s in sources],
        }  # fmt: skip
        return raise_for_error(await self.request(message, timeout))

    async def notice(
        self,
        cells: Iterable[str],
        text: str,
        severity: str = "info",
        timeout: float | None = None,
        expires_s: int | None = None,
    ) -> Message:
        """Broadcast a notice (info, warning, danger) to citizens in `cells`.

        It stays current (and published as CAP) for `expires_s`, or the town's default.

        Raises:
            HubError: The hub refused it.
        """
        message: dict[str, Any] = {
            "type": "notice", "cells": list(cells), "text": text, "severity": severity,
        }  # fmt: skip
        if expires_s is not None:
            message["expires_s"] = expires_s
        return raise_for_error(await self.request(message, timeout))

    async def recommend(self, incident: IncidentRef, timeout: float | None = None) -> Message:
        """Ask for the best units for an incident; returns the `recommendation`.

        Raises:
            HubError: The hub refused it.
        """
        message = {"type": "incident.recommend", "incident": object_id(incident)}
        reply = raise_for_error(await self.request(message, timeout))
        self.model.apply(reply)  # replies skip the listeners: keep the model complete
        return reply

    async def history(self, incident: IncidentRef, timeout: float | None = None) -> Message:
        """An incident's audit trail; returns the `incident.history` message.

        Raises:
            HubError: The hub refused it.
        """
        message = {"type": "incident.history", "incident": object_id(incident)}
        return raise_for_error(await self.request(message, timeout))
