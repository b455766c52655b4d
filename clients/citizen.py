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
        messages: Each alert (id) → its conversation with the control room, oldest
            first (`message`s from `control_room`, and this citizen's own answers
            from `reporter`), each message once however often it was delivered.
        neighbourhood: The published incidents of the cells this citizen watches
            (id → public view: category, coarse cell, times, status), kept from the
            `neighbours` snapshot and each `neighbour` update (unpublished or
            ended ones are dropped).
    """

    expected_role = "citizen"

    def __init__(self, url: str, token: str, **options: Any) -> None:
        super().__init__(url, token, **options)
        self.alerts: dict[str, str] = {}
        self.notices: deque[Message] = deque(maxlen=NOTICES_KEPT)
        self.messages: dict[str, list[Message]] = {}
        self._message_ids: set[str] = set()
        self.neighbourhood: dict[str, Mapping[str, Any]] = {}
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

    async def reply(
        self,
        alert: str | Mapping[str, Any],
        text: str,
        *,
        ref: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Answer the control room about one of this citizen's alerts (while it is live).

        Idempotent by `ref` (generated when omitted) and re-sent after a
        reconnection, like `submit_alert`: an answer written offline goes out once
        the app is back, and is stored once.

        Raises:
            HubError: The hub refused it (`conflict`: the incident ended;
                `rate_limited`; `too_large`; `not_found`).
        """
        message: Message = {
            "type": "message.reply", "ref": ref or uuid.uuid4().hex,
            "alert": object_id(alert, "alert"), "text": text,
        }  # fmt: skip
        return await self._submit(message, self.request_timeout if timeout is None else timeout)

    async def rate(
        self,
        alert: str | Mapping[str, Any],
        score: int,
        comment: str = "",
        *,
        ref: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Rate how an ended (resolved or rejected) alert was handled, 1..5, once.

        Raises:
            HubError: The hub refused it (`conflict`: not ended, or rated already).
        """
        message: Message = {
            "type": "alert.feedback", "ref": ref or uuid.uuid4().hex,
            "alert": object_id(alert, "alert"), "score": score,
        }  # fmt: skip
        if comment:
            message["comment"] = comment
        return await self._submit(message, self.request_timeout if timeout is None else timeout)

    async def watch(self, cells: Iterable[str], timeout: float | None = None) -> Message:
        """Opt in to the neighbours' feed of `cells` (none: opt out); the hub keeps the
        choice, so it holds from the next session on. Returns the `neighbours` snapshot.

        Raises:
            HubError: The hub refused it (`too_large`: over 50 cells; `out_of_area`).
        """
        reply = raise_for_error(
            await self.request({"type": "neighbours.follow", "cells": list(cells)}, timeout)
        )
        self._neighbours(reply)
        return reply

    async def me_too(
        self, incident: str, *, ref: str | None = None, timeout: float | None = None
    ) -> Message:
        """Say "me too" about a published incident: a report of it by this citizen,
        answered like `submit_alert` with an `alert.ack` (idempotent by `ref`).

        Raises:
            HubError: The hub refused it (`not_found`: not published; `conflict`:
                reported already, or ended; `rate_limited`).
        """
        message: Message = {
            "type": "neighbour.corroborate", "ref": ref or uuid.uuid4().hex, "incident": incident,
        }  # fmt: skip
        ack = await self._submit(message, self.request_timeout if timeout is None else timeout)
        self.alerts[ack["alert"]] = str(ack.get("status", "received"))
        return ack

    def _neighbours(self, message: Message) -> None:
        self.neighbourhood = {str(i["id"]): i for i in message.get("incidents") or ()}

    def _neighbour(self, view: Mapping[str, Any]) -> None:
        live = view.get("status") in ("open", "acknowledged", "dispatched", "on_scene")
        if view.get("published") and live:
            self.neighbourhood[str(view["id"])] = view
        else:
            self.neighbourhood.pop(str(view.get("id")), None)

    def _observe(self, message: Message) -> None:
        if message["type"] == "alert.status" and isinstance(message.get("alert"), str):
            self.alerts[message["alert"]] = str(message.get("status"))
        elif message["type"] == "notice":
            self.notices.append(message)
        elif message["type"] == "message" and isinstance(message.get("alert"), str):
            self._keep_message(message)
        elif message["type"] == "neighbours":
            self._neighbours(message)
        elif message["type"] == "neighbour" and isinstance(message.get("incident"), dict):
            self._neighbour(message["incident"])

    def _keep_message(self, message: Message) -> None:
        """A conversation's message, once (delivery is at least once)."""
        if message.get("message") in self._message_ids:
            return
        self._message_ids.add(str(message.get("message")))
        self.messages.setdefault(message["alert"], []).append(message)
