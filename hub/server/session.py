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
from hub.core.outbox import Outbox, PushResult
from hub.core.ratelimit import TokenBucket
from hub.core.session import Close, SessionProtocol
from hub.core.tokens import Claims
from hub.server.eager import run_until_suspended
from hub.store.store import StreamEntry

__all__ = ["Session", "new_protocol"]


def _send_event(frame: Frame) -> dict[str, Any]:
    """The ASGI message that sends `frame` (text for str, binary for bytes)."""
    if isinstance(frame, str):
        return {"type": "websocket.send", "text": frame}
    return {"type": "websocket.send", "bytes": frame}


log = logging.getLogger("vigie.session")


def new_protocol(codec: Codec, settings: HubSettings) -> SessionProtocol[StreamEntry]:
    """The protocol of a new connection, with the hub's per-session message rate."""
    rate = settings.session_msg_rate
    bucket = TokenBucket(0 if rate.unlimited else rate.count, rate.count / rate.per_s)
    return SessionProtocol(codec, bucket)


Send = Callable[[MutableMapping[str, Any]], Coroutine[Any, Any, None]]
SEND_FAILURES = (OSError, RuntimeError, WebSocketDisconnect)  # the peer went away


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
        protocol: SessionProtocol[StreamEntry],
    ) -> None:
        self.id = session_id
        self.claims = claims
        self.codec = codec
        self.tenant = tenant
        self._send = send
        self.outbox = Outbox(settings.outbox_max_messages, settings.outbox_max_bytes)
        # Every decision on this session (floors, buffering, floods, closes): sans I/O.
        self.protocol = protocol
        # Notices reach a citizen for `follow_cells`: the cells it asked for
        # (`citizen.follow`) and its last alert's cell (Node.set_follow).
        self.follow_cells: frozenset[str] = frozenset()
        self.followed: frozenset[str] = frozenset()
        self.alert_cell: str | None = None
        self.neighbour_cells: frozenset[str] = frozenset()  # the neighbours' feed it opted in to
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
        self._shut = False  # close() has done its I/O
        # Called once the hub closes the session (the hub's WebSocket layer
        # unregisters it then: it has no reader to return).
        self.on_close: Callable[[], None] | None = None
        # The hub's layer writes a frame at once when its socket takes it (True),
        # without a coroutine per recipient; otherwise `send` and the outbox do.
        self.write_now: Callable[[Frame], bool] | None = None

    @property
    def close_code(self) -> int | None:
        """The code this session was closed with by the hub, if it was."""
        return self.protocol.close_code

    @property
    def syncing(self) -> bool:
        """True while a resume replays (live entries are buffered)."""
        return self.protocol.syncing

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
        if self.protocol.close_decided is not None:  # close_code, minus two calls: a hot path
            return
        if not self.outbox and (self._writer is None or self._writer.done()):
            if self.write_now is not None and self.write_now(frame):
                self.sent += 1
                return
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
        # The protocol may have decided this close itself (flood, resume overflow):
        # the I/O below still runs once.
        self.protocol.close(Close(code, reason))
        if self._shut or self.protocol.close_decided is None:
            return
        self._shut = True
        self.outbox.clear()
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
            decided = self.protocol.close_decided  # the first close decided wins
            self._closer = asyncio.get_running_loop().create_task(
                self._send_close(decided.code, decided.reason)
            )
        if self.on_close is not None:
            self.on_close()

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
