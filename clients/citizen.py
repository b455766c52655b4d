"""The citizen role: report alerts, follow their status, receive notices."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from clients.codec import Message
from clients.connection import Connection
from clients.errors import HubError, raise_for_error
from clients.model import object_id

__all__ = ["Citizen"]

NOTICES_KEPT: Final = 100


class Citizen(Connection):
    """A citizen's app: `Connection` plus the citizen's messages.

    Attributes:
        alerts: Each alert this citizen submitted (id) → its latest status.
        notices: The latest notices received (oldest dropped beyond 100).
    """

    expected_role = "citizen"

    def __init__(self, url: str, token: str, **options: Any) -> None:
        super().__init__(url, token, **options)
        self.alerts: dict[str, str] = {}
        self.notices: deque[Message] = deque(maxlen=NOTICES_KEPT)
        self.add_listener(self._observe)

    async def submit_alert(
        self,
        category: str,
        lat: float,
        lon: float,
        *,
        text: str = "",
        accuracy_m: float | None = None,
        ref: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Report an alert and return its `alert.ack` once the hub stored it.

        Idempotent by `ref` (generated when omitted): the message is re-sent
        with the same `ref` after a reconnection, and on `unavailable` after the
        hub's `retry_after_s`, so one call stores at most one alert.

        Raises:
            HubError: The hub refused it (`rate_limited`, `out_of_area`, ...).
            RequestTimeout: No ack within `timeout` (default: request_timeout).
        """
        message: Message = {
            "type": "alert.submit", "ref": ref or uuid.uuid4().hex, "category": category,
            "lat": lat, "lon": lon,
        }  # fmt: skip
        if text:
            message["text"] = text
        if accuracy_m is not None:
            message["accuracy_m"] = accuracy_m
        ack = await self._submit(message, self.request_timeout if timeout is None else timeout)
        self.alerts[ack["alert"]] = str(ack.get("status", "received"))
        return ack

    async def _submit(self, message: Message, timeout: float) -> Message:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            reply = await self.request(message, max(0.0, deadline - loop.time()), resend=True)
            if reply.get("code") != "unavailable":
                return raise_for_error(reply)
            # Nothing was stored: the same ref is safe to send again, after the hub's delay.
            wait = HubError(reply).retry_after_s or 1.0
            if loop.time() + wait >= deadline:
                raise HubError(reply)
            await asyncio.sleep(wait)

    async def cancel(self, alert: str | Mapping[str, Any], timeout: float | None = None) -> Message:
        """Withdraw an alert (an id or its `alert.ack`); returns the `ok`.

        Raises:
            HubError: The hub refused it.
        """
        alert_id = object_id(alert, "alert")
        return raise_for_error(
            await self.request({"type": "alert.cancel", "alert": alert_id}, timeout)
        )

    async def follow(self, cells: Iterable[str], timeout: float | None = None) -> Message:
        """Set the H3 cells (home area, current position) this citizen gets notices for.

        Raises:
            HubError: The hub refused it (e.g. `out_of_area`).
        """
        return raise_for_error(
            await self.request({"type": "citizen.follow", "cells": list(cells)}, timeout)
        )

    def _observe(self, message: Message) -> None:
        if message["type"] == "alert.status" and isinstance(message.get("alert"), str):
            self.alerts[message["alert"]] = str(message.get("status"))
        elif message["type"] == "notice":
            self.notices.append(message)
