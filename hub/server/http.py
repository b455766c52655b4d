"""uvicorn's h11 protocol with a deadline on each request head (slowloris).

uvicorn bounds a request head in size (h11's 16 KiB) but not in time: a client
that sends half a request line and then nothing keeps its socket, and enough of
them exhaust the server's. Here every connection must deliver a complete
request head within REQUEST_HEAD_TIMEOUT_S of connecting, or of the previous
response on a kept-alive connection; otherwise it is closed. A WebSocket
upgrade hands over a complete head, so the deadline ends with it.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["REQUEST_HEAD_TIMEOUT_S", "HubHttpProtocol"]

REQUEST_HEAD_TIMEOUT_S = 5.0


class HubHttpProtocol(H11Protocol):
    """H11Protocol whose request heads must arrive within REQUEST_HEAD_TIMEOUT_S."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock on the first request head."""
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        """Stop the clock once h11 has parsed a whole request head."""
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        """A kept-alive connection owes the next request head in time as well."""
        super().on_response_complete()
        # A pipelined request may have been parsed already: then it owes nothing.
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        """The upgrade carries a complete head: the WebSocket protocol takes over."""
        self._cancel_head_timer()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        """No deadline for a connection that is gone."""
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(REQUEST_HEAD_TIMEOUT_S, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()
