"""The hub's own WebSocket layer: one asyncio Protocol per connection, sans-I/O inside.

uvicorn's h11 protocol parses the HTTP request (and serves every other route
through Starlette); on a WebSocket upgrade it hands the connection to
`HubWebSocketProtocol` (uvicorn's `ws=` option), which only moves bytes:
`data_received` feeds websockets' `ServerProtocol`, its events go to the
session protocol (hub.core.session), and what is to be sent is written to the
transport. There is no ASGI task, no Starlette WebSocket and, at rest, no task
at all: a task exists only while a hello is verified and the session
synchronised, while a message's handler awaits Redis, or while a send waits for
the socket (Session's writer). Heartbeats come from the process's one
`HeartbeatWheel`.

Frames are built once per event and codec (`wire_frame`): a server frame is
unmasked (RFC 6455 section 5.1), so the same bytes go to every recipient.

Rule: the handshake, the close codes and the limits are those of the ASGI
endpoint (hub.server.endpoint): 403 for a path other than /ws or no v1
subprotocol among those offered, 1009 over max_frame_bytes, 1007 for text that
is not UTF-8, 4400 without a hello in time, then the session protocol's codes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, cast

from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.frames import CloseCode as WsCloseCode
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State as WsState
from websockets.server import ServerProtocol

from hub.core.codec import Codec, choose_codec
from hub.core.errors import CloseCode
from hub.core.messages import Hello
from hub.core.session import Close, Opening, Refused
from hub.core.tokens import Claims
from hub.server import commands as _commands  # noqa: F401  (registers console handlers)
from hub.server import field as _field  # noqa: F401  (registers unit/citizen lifecycle handlers)
from hub.server import handlers as _handlers  # noqa: F401  (registers handlers)
from hub.server.admission import Admission
from hub.server.cork import MAX_HELD_BYTES
from hub.server.dispatch import handle
from hub.server.heartbeat import PING_FRAME, HeartbeatWheel, between_frames, is_empty_pong
from hub.server.jwks import KeySource
from hub.server.lifecycle import authenticate, opening, session_closed, session_opened
from hub.server.node import Node
from hub.server.session import Session, new_protocol

__all__ = ["STATE_KEY", "HubWebSocketProtocol", "WebSocketLayer", "wire_frame"]

log = logging.getLogger("vigie.websocket")

STATE_KEY = "vigie.websocket"  # the lifespan state entry uvicorn hands to each protocol
WS_PATH = "/ws"
CLOSE_TIMEOUT_S = 10.0  # how long the peer has to answer our close frame
SHUTDOWN_CLOSE_WAIT_S = 1.0  # the same, when the process is exiting (uvicorn waits for it)
FORBIDDEN = 403


@dataclass(slots=True)
class WebSocketLayer:
    """What every connection of one app shares (created by the app's lifespan)."""

    node: Node
    admission: Admission
    keys: KeySource
    wheel: HeartbeatWheel


class PeerGone(OSError):
    """The connection is closed: nothing can be sent any more."""


_last_text: list[Any] = [None, b""]  # (frame, its wire bytes): encode once, write many
_last_binary: list[Any] = [None, b""]


def wire_frame(frame: str | bytes) -> bytes:
    """The unmasked WebSocket frame of a message (text for str, binary for bytes).

    The fan-out hands the same frame object (`EncodedEvent`'s cache) to every
    recipient of an event, one after the other: the last frame of each opcode
    is remembered, so its header and payload are built once per event and codec.
    """
    last = _last_text if isinstance(frame, str) else _last_binary
    if last[0] is frame:
        wire: bytes = last[1]
        return wire
    if isinstance(frame, str):
        built = Frame(Opcode.TEXT, frame.encode())
    else:
        built = Frame(Opcode.BINARY, frame)
    wire = built.serialize(mask=False)
    last[0], last[1] = frame, wire
    return wire


class HubWebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection, from the upgrade request to the closed socket."""

    __slots__ = (
        "_admitted_peer",
        "_between_frames",
        "_claims",
        "_close_timer",
        "_consuming",
        "_finished",
        "_fragments",
        "_held",
        "_held_bytes",
        "_hello_seen",
        "_hello_timer",
        "_inbox",
        "_lost",
        "_message_opcode",
        "_reading_paused",
        "_release_due",
        "_syncing",
        "_writable",
        "awaiting_pong",
        "codec",
        "conn",
        "connections",
        "heartbeat_slot",
        "layer",
        "peer",
        "protocol",
        "session",
        "tasks",
        "transport",
    )

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any]
    ) -> None:
        self.layer: WebSocketLayer = app_state[STATE_KEY]
        self.connections = server_state.connections
        self.tasks = server_state.tasks  # uvicorn waits for these before the lifespan ends
        self.conn = ServerProtocol(max_size=config.ws_max_size, logger=log)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._admitted_peer = False
        self.codec = Codec.JSON
        self.protocol = new_protocol(Codec.JSON, self.layer.node.config.hub)
        self.session: Session | None = None
        self._claims: Claims | None = None
        self._hello_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._inbox: deque[str | bytes] = deque()
        self._consuming = False
        self._fragments: list[bytes] = []
        self._message_opcode = Opcode.TEXT
        self._writable: asyncio.Future[None] | None = None  # exists only while paused
        self._held: list[bytes] = []  # frames of this turn, written by uncork (hub.server.cork)
        self._held_bytes = 0
        self._reading_paused = False
        self._lost = False
        self._finished = False
        self._hello_seen = False
        self._syncing = False  # _open is running: a release waits for it
        self._release_due = False
        self.awaiting_pong = False
        self._between_frames = False  # the parser waits for a frame's first byte (open only)
        self.heartbeat_slot = -1

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """uvicorn hands the socket over; the request follows in data_received."""
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.connections.add(self)  # type: ignore[arg-type]  # uvicorn shuts it down on exit
        peer = self.transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "?"

    def data_received(self, data: bytes) -> None:
        """Feed the bytes in, act on what they were, write what is to be sent."""
        if self.awaiting_pong and self._between_frames and is_empty_pong(data):
            self.awaiting_pong = False  # the heartbeat's answer: nothing else to do
            return
        self.conn.receive_data(data)
        for event in self.conn.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event)
        # Where the parser stopped holds until more bytes are fed: read once here,
        # not on each of the 400 pongs a second that skip the parser at rest.
        self._between_frames = between_frames(self.conn)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is closed: release everything the connection held."""
        self._lost = True
        self._held.clear()
        self.connections.discard(self)
        self.layer.wheel.discard(self)
        for timer in (self._hello_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)  # a paused send fails instead of waiting forever
        if self._admitted_peer:
            self._admitted_peer = False
            self.layer.admission.release_connection(self.peer)
        self._inbox.clear()
        if self.session is not None:
            self._release()
        elif not self._hello_seen:
            self.protocol.lost()  # never got as far as a session

    def pause_writing(self) -> None:
        """The transport's buffer is over its high-water mark: sends wait."""
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        """The buffer drained below its low-water mark."""
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def shutdown(self) -> None:
        """uvicorn is exiting: close with 1012 (as its own WebSocket protocols do), and
        give the peer SHUTDOWN_CLOSE_WAIT_S to answer before the socket is closed.

        Closing the socket at once, with frames the peer sent meanwhile still unread,
        makes the kernel reset the connection (RST) instead of ending it (FIN), and a
        peer that reads the reset first never reads our close frame: it sees 1006,
        not 1012 (a rolling restart's citizens, reporting while their worker drained).
        Reading resumes once the close is sent (`_send_close`), and the peer's answer
        closes the socket (`_flush`); uvicorn waits for that before it exits.
        """
        self.uncork()
        if self.conn.state is WsState.OPEN:
            self._send_close(CloseCode.SERVICE_RESTART, "")
            self._flush()
        transport = self.transport
        if transport is None or self._lost:
            return
        if self.conn.state is not WsState.CLOSING:  # no close handshake to wait for
            transport.close()
            return
        if self._close_timer is not None:
            self._close_timer.cancel()
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(SHUTDOWN_CLOSE_WAIT_S, transport.close)

    # -- handshake --------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        path = request.path.partition("?")[0]
        offered = [
            token.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for token in header.split(",")
            if token.strip()
        ]
        codec = choose_codec(offered)
        if path != WS_PATH or codec is None:
            self.conn.send_response(self.conn.reject(FORBIDDEN, ""))
            return
        response = self.conn.accept(request)
        if response.status_code == 101 and offered:
            response.headers["Sec-WebSocket-Protocol"] = codec.value
        self.conn.send_response(response)
        if self.conn.state is not WsState.OPEN:
            return  # not a valid upgrade: websockets answered it (400 and close)
        self.codec = codec
        self.protocol = new_protocol(codec, self.layer.node.config.hub)
        if not self.layer.admission.admit_connection(self.peer):
            self._refuse(Close(CloseCode.TOO_MANY, "too many connections"))
            return
        self._admitted_peer = True
        self.layer.wheel.add(self)
        loop = asyncio.get_running_loop()
        timeout = self.layer.node.config.hub.hello_timeout_s
        self._hello_timer = loop.call_later(timeout, self._hello_timed_out)

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        if not self._hello_seen and self.protocol.close_code is None:
            decision = self.protocol.hello(None)
            assert isinstance(decision, Close)
            self._refuse(decision)
            self._flush()

    # -- frames -----------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            self.awaiting_pong = False
            return
        if frame.opcode in (Opcode.PING, Opcode.CLOSE):
            return  # websockets queued the pong or the close reply: _flush writes it
        if frame.opcode is not Opcode.CONT:
            self._message_opcode = frame.opcode
            self._fragments = []
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return
        data = b"".join(self._fragments)
        self._fragments = []
        if self._message_opcode is Opcode.TEXT:
            try:
                self._message(data.decode())
            except UnicodeDecodeError:
                self.conn.fail(WsCloseCode.INVALID_DATA, "invalid UTF-8")  # RFC 6455 section 8.1
            return
        self._message(data)

    def _message(self, frame: str | bytes) -> None:
        if self.protocol.close_code is not None or self.conn.state is not WsState.OPEN:
            # Closing: nothing more is acted on. Frames still arrive after our close
            # frame (read only so that the socket ends with FIN, see `shutdown`).
            return
        if not self._hello_seen:  # the first frame: the hello
            self._hello_seen = True
            if self._hello_timer is not None:
                self._hello_timer.cancel()
                self._hello_timer = None
            hello = self.protocol.hello(frame)
            if isinstance(hello, Close):
                self._refuse(hello)
                return
            self._syncing = True
            self._start(self._open(hello))
            return
        self._inbox.append(frame)
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True  # one message at a time, as the endpoint reads
            self.transport.pause_reading()
        # Not while the session opens (`_syncing`): its requests wait for the sync to
        # end (`_open` then starts the consumer), as the ASGI endpoint reads them.
        if self.session is not None and not self._consuming and not self._syncing:
            self._consume_inbox()

    def _consume_inbox(self) -> None:
        # A task, not an inline step: handlers await Redis, whose timeouts need a task.
        # It lives while messages wait, and ends with the last one.
        self._consuming = True
        self._start(self._consume())

    async def _consume(self) -> None:
        try:
            while self._inbox and self.session is not None:
                await self._one(self.session, self._inbox.popleft())
        finally:
            self._consuming = False
            if self._reading_paused and self.transport is not None and not self._lost:
                self._reading_paused = False
                self.transport.resume_reading()

    async def _one(self, session: Session, frame: str | bytes) -> None:
        node = self.layer.node
        if session.close_code is not None:
            self._inbox.clear()
            return
        node.metrics.messages_in += 1
        received = self.protocol.receive(frame, time.monotonic())
        if isinstance(received, Refused):
            node.metrics.errors[received.error.code.value] += 1
            session.send_message(received.reply)
        else:
            reply = await handle(node, session, received)
            if reply is not None:
                session.send_message(reply)
            node.catch_up(session)  # a handler's hold ends after its reply (neighbours.follow)
        self.uncork()  # the reply now, not on the loop's next pass
        flood = self.protocol.flood()
        if flood is not None:
            session.close(flood.code, flood.reason)

    # -- opening and closing a session ------------------------------------------------

    async def _open(self, hello: Hello) -> None:
        try:
            await self._open_session(hello)
        finally:
            self._syncing = False
            self.uncork()  # the welcome and the replay now
            if self._release_due or (self.session is not None and self._lost):
                self._release()
        if self.session is not None and self._inbox and not self._consuming:
            self._consume_inbox()

    async def _open_session(self, hello: Hello) -> None:
        layer, node = self.layer, self.layer.node
        claims = await authenticate(layer.keys, hello.token)
        tenant = node.config.tenant(claims.tenant) if claims else None
        outcome = opening(node, layer.admission, claims if tenant is not None else None)
        if outcome is not Opening.OK or self._lost:
            if claims is not None and outcome in (Opening.OK, Opening.FAILED, Opening.DRAINING):
                layer.admission.release_token(claims)
            if self._lost:
                self.protocol.lost()
                return
            refusal = self.protocol.open(outcome, claims.role if claims else "")
            if refusal is not None:
                self._refuse(refusal)
                self._flush()
            return
        assert claims is not None and tenant is not None
        self._claims = claims
        self.protocol.open(Opening.OK, claims.role)
        session = Session(
            secrets.token_urlsafe(12),
            claims,
            self.codec,
            tenant,
            node.config.hub,
            self.send,
            self.protocol,
        )
        session.on_close = self._release
        session.write_now = self.write_now
        self.session = session
        if not await session_opened(node, session, hello):
            self._release_due = True

    def _release(self) -> None:
        """Unregister the session once (the hub closed it, or the peer went away).

        While the session is being opened, the release waits for the opening to
        end: a unit's presence must be counted before it is taken back.
        """
        if self._finished or self.session is None:
            return
        if self._syncing:
            self._release_due = True
            return
        self._finished = True
        self._start(self._finish(self.session))

    async def _finish(self, session: Session) -> None:
        layer = self.layer
        if self._claims is not None:
            layer.admission.release_token(self._claims)
        await session_closed(layer.node, session)
        if self._lost:
            self.protocol.lost()

    def _refuse(self, decision: Close) -> None:
        """Close a connection that has no session (yet): hello, token, admission."""
        self.layer.node.metrics.closes[decision.code] += 1
        self.protocol.close(decision)
        self._send_close(decision.code, decision.reason)

    def _start(self, coro: Any) -> None:
        """Run the rest of some work in a task (uvicorn waits for it at shutdown)."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_failure)

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: MutableMapping[str, Any]) -> None:
        """Session's send: a data frame or the close (same messages as ASGI's)."""
        if message["type"] == "websocket.close":
            self._send_close(
                message.get("code", WsCloseCode.NORMAL_CLOSURE), message.get("reason", "")
            )
            self._flush()
            return
        if self._writable is not None:
            await self._writable
        if self._lost or self.transport is None or self.conn.state is not WsState.OPEN:
            raise PeerGone("connection closed")
        self.uncork()
        text = message.get("text")
        self.transport.write(wire_frame(text if text is not None else message["bytes"]))

    def write_now(self, frame: str | bytes) -> bool:
        """Take a data frame if the socket takes it now; False: the caller must wait.

        The frame is held with the others of this turn and written by `uncork`
        (hub.server.cork): one system call per connection and turn, not per frame.
        """
        if self._writable is not None or self._lost or self.transport is None:
            return False
        if self.conn.state is not WsState.OPEN:
            return False
        wire = wire_frame(frame)
        held = self._held
        if not held:
            self.layer.node.cork.hold(self)
        held.append(wire)
        self._held_bytes += len(wire)
        if self._held_bytes >= MAX_HELD_BYTES:
            self.uncork()  # the transport's high-water mark must see these bytes now
        return True

    def uncork(self) -> None:
        """Write the frames held this turn, with one system call."""
        held = self._held
        if not held:
            return
        self._held = []
        self._held_bytes = 0
        transport = self.transport
        if self._lost or transport is None:
            return
        metrics = self.layer.node.metrics
        metrics.socket_writes += 1
        metrics.frames_written += len(held)
        if len(held) == 1:
            transport.write(held[0])
        else:
            transport.writelines(held)  # one writev (uvloop), one joined write (asyncio)

    def _send_close(self, code: int, reason: str) -> None:
        if self.conn.state is not WsState.OPEN:
            return
        self.conn.send_close(code, reason)
        self._between_frames = False  # closing: every byte goes to websockets
        if self._close_timer is None and self.transport is not None:
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(CLOSE_TIMEOUT_S, self.transport.close)
        if self._reading_paused and self.transport is not None and not self._lost:
            self._reading_paused = False  # read the peer's close reply
            self.transport.resume_reading()

    def _flush(self) -> None:
        """Write what websockets has to send; an empty chunk means: close the socket."""
        transport = self.transport
        if transport is None or self._lost:
            return
        self.uncork()  # websockets' frames (a close) go after the data frames already taken
        for data in self.conn.data_to_send():
            if data:
                transport.write(data)
            else:
                transport.close()
                return

    # -- heartbeat --------------------------------------------------------------------

    def heartbeat(self) -> None:
        """The wheel's visit: ping, or drop a peer silent since the last visit."""
        if self._lost or self.conn.state is not WsState.OPEN:
            self.layer.wheel.discard(self)
            return
        if self.awaiting_pong:
            self._between_frames = False
            self.conn.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        self.awaiting_pong = True
        if self.transport is not None:
            # Straight to the socket: websockets keeps no state for a ping it sends.
            # Ahead of any data frames held this turn, which is allowed (a control
            # frame may come between messages, RFC 6455 section 5.4): no uncork on
            # the path that runs 400 times a second at rest.
            self.transport.write(PING_FRAME)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("websocket task failed", exc_info=task.exception())
