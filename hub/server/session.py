"""One client connection: identity, codec, bounded outbox and its writer.

The writer task exists only while there is something to write, so an idle
session costs no task of its own (uvicorn already runs one per connection).
A durable frame that does not fit the outbox closes the session with 4408:
the client resumes from its offsets, so slowness costs it a reconnect, never
a message, and costs the hub no unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, MutableMapping
from typing import Any

from starlette.websockets import WebSocketDisconnect

from hub.config import HubSettings, TenantConfig
from hub.core.codec import Codec, Frame, frame_for
from hub.core.errors import CloseCode
from hub.core.offsets import ZERO
from hub.core.outbox import Outbox, PushResult
from hub.core.ratelimit import TokenBucket
from hub.core.tokens import Claims
from hub.server.eager import run_until_suspended
from hub.store.store import StreamEntry

__all__ = ["Session"]


def _send_event(frame: Frame) -> dict[str, Any]:
    """The ASGI message that sends `frame` (text for str, binary for bytes)."""
    if isinstance(frame, str):
        return {"type": "websocket.send", "text": frame}
    return {"type": "websocket.send", "bytes": frame}


log = logging.getLogger("vigie.session")

Send = Callable[[MutableMapping[str, Any]], Coroutine[Any, Any, None]]
SEND_FAILURES = (OSError, RuntimeError, WebSocketDisconnect)  # the peer went away
PENDING_MAX = 10_000  # live entries buffered while a resume replays; beyond it: 4408


class Session:
    """A connected, authenticated client."""

    def __init__(
        self,
        session_id: str,
        claims: Claims,
        codec: Codec,
        tenant: TenantConfig,
        settings: HubSettings,
        send: Send,
    ) -> None:
        self.id = session_id
        self.claims = claims
        self.codec = codec
        self.tenant = tenant
        self._send = send
        self.outbox = Outbox(settings.outbox_max_messages, settings.outbox_max_bytes)
        rate = settings.session_msg_rate
        self.bucket = TokenBucket(0 if rate.unlimited else rate.count, rate.count / rate.per_s)
        self.syncing = True
        self.pending: list[StreamEntry] = []
        self.events_floor = ZERO  # last tenant-stream offset delivered
        self.inbox_floor = ZERO  # last personal-stream offset delivered
        self.follow_cells: frozenset[str] = frozenset()
        self.neighbour_cells: frozenset[str] = frozenset()  # the neighbours' feed it opted in to
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self.connected_at = time.monotonic()
        self.sent = 0
        self._writer: asyncio.Task[None] | None = None
        # A send handed to a writer that has not run yet: closed if the writer never will.
        self._unstarted: Coroutine[Any, Any, None] | None = None
        self.presence_counted = False  # a unit's +1 session in Redis, to take back on close
        self.reader: asyncio.Task[Any] | None = None  # the endpoint task reading frames
        self.receiving = False  # the reader is parked in receive()
        self._closer: asyncio.Task[None] | None = None

    @property
    def role(self) -> str:
        """citizen, unit or console."""
        return self.claims.role

    @property
    def sub(self) -> str:
        """The user or unit id."""
        return self.claims.sub

    @property
    def identity(self) -> tuple[str, str]:
        """(role, sub): the owner of the personal inbox."""
        return (self.claims.role, self.claims.sub)

    def send_message(self, message: dict[str, Any], *, durable: bool = True) -> None:
        """Encode and queue one message for this session only."""
        self.push(frame_for(message, self.codec), durable=durable)

    def push(self, frame: Frame, *, durable: bool = True, key: Hashable | None = None) -> None:
        """Send or queue an encoded frame; overflow of a durable frame closes with 4408.

        When nothing is queued and no writer runs, the frame is sent inline
        (`run_until_suspended`): a writable socket takes it at once, without a
        task. Only a send that has to wait gets a writer task, and frames pushed
        meanwhile queue in the outbox behind it.
        """
        if self.close_code is not None:
            return
        if not self.outbox and (self._writer is None or self._writer.done()):
            try:
                rest = run_until_suspended(self._send(_send_event(frame)))
            except SEND_FAILURES as exc:
                self._send_failed(exc)
                return
            self.sent += 1
            if rest is not None:
                self._unstarted = rest
                self._writer = asyncio.get_running_loop().create_task(self._drain(rest))
            return
        result = self.outbox.push(frame, durable=durable, key=key)
        if result is PushResult.OVERFLOW:
            log.warning("session %s too slow: outbox full, closing 4408", self.id)
            self.close(CloseCode.TOO_SLOW, "outbox overflow")
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self, sending: Coroutine[Any, Any, None] | None = None) -> None:
        """Finish the send in progress, then write the outbox until it is empty."""
        self._unstarted = None
        try:
            if sending is not None:
                await sending
            frame = self.outbox.pop()
            while frame is not None:
                await self._send(_send_event(frame))
                self.sent += 1
                frame = self.outbox.pop()
        except SEND_FAILURES as exc:
            self._send_failed(exc)

    def _send_failed(self, exc: BaseException) -> None:
        log.debug("session %s send failed: %s", self.id, exc)
        self.close(CloseCode.GOING_AWAY, "send failed", send_close=False)

    async def flush(self, timeout_s: float) -> None:
        """Wait until the outbox is written (graceful shutdown), at most `timeout_s`."""
        writer = self._writer
        if writer is not None and not writer.done():
            await asyncio.wait([writer], timeout=timeout_s)

    def close(self, code: int, reason: str = "", *, send_close: bool = True) -> None:
        """Close the session (idempotent). Queued frames are dropped."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.outbox.clear()
        self.pending.clear()
        if self._unstarted is not None:
            self._unstarted.close()
            self._unstarted = None
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
        self.closed.set()
        reader = self.reader
        if self.receiving and reader is not None and reader is not asyncio.current_task():
            # The reader is parked in receive(): a client that neither reads nor
            # sends would hold the session (indexes, admission slots) forever.
            reader.cancel()
        if send_close:
            self._closer = asyncio.get_running_loop().create_task(self._send_close(code, reason))

    async def wait_close_sent(self, timeout_s: float) -> None:
        """Wait until the close frame queued by `close` is written, at most `timeout_s`.

        The connection's handler must not return before: the server then drops the
        transport, and the client sees an abnormal closure (1006), not our code.
        """
        closer = self._closer
        if closer is not None and not closer.done():
            await asyncio.wait([closer], timeout=timeout_s)
            closer.cancel()  # a peer that never reads never unblocks it: give up

    async def _send_close(self, code: int, reason: str) -> None:
        # The peer may already be gone: then there is nobody to tell.
        with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
