"""One logical connection to a hub: it outlives the WebSocket sessions it is made of.

A `Connection` opens a session (`hello` with its token and offsets), reads
pushed messages, and when the session ends decides what to do from the close
code (`clients.recovery`): reconnect with backoff and resume, get a new token
first, or stop. Consumers see one ordered, duplicate-free message flow:

* listeners (`add_listener`) are called by the reader for every message,
  before it is queued: that is where role classes keep their local models;
* the mailbox (`async for message in connection`) is bounded, with a named
  overflow policy (`clients.mailbox`);
* replies to `request` (messages carrying its `ref`) resolve its future and
  are not queued (`clients.requests`).

Duplicates (by offset), `reset` and `snapshot` are handled in `clients.delivery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from clients.codec import DecodeError, Encoding, Message, decode, encode
from clients.delivery import Delivery, Listener
from clients.errors import (
    ClientClosed,
    ClientError,
    ConnectionLost,
    ProtocolViolation,
    RequestTimeout,
    Unauthorized,
)
from clients.mailbox import Mailbox, Overflow
from clients.offsets import OffsetTracker
from clients.recovery import ABNORMAL_CLOSURE, Action, Backoff, action_for_close
from clients.requests import PendingRequest, PendingRequests

__all__ = ["Connection", "Listener", "TokenProvider"]

log = logging.getLogger("vigie.client")

TokenProvider = Callable[[], Awaitable[str | None]]

MAX_INCOMING_BYTES: Final = 16 * 1024 * 1024  # snapshots of busy towns exceed 1 MiB
MAX_REAUTH_IN_A_ROW: Final = 3  # fresh tokens refused this often: stop, don't loop
CLOSE_TIMEOUT_S: Final = 2.0


@dataclass(slots=True)
class _Session:
    """One WebSocket session of the connection."""

    number: int
    ws: ClientConnection
    welcomed_at: float | None = None  # monotonic time of its welcome

    def live_seconds(self) -> float:
        """How long the session was live (0 if it never got a welcome)."""
        return 0.0 if self.welcomed_at is None else time.monotonic() - self.welcomed_at


class Connection:
    """A resilient, resuming connection to a Vigie hub.

    Use it as an async context manager, or call `start` and `close`::

        async with Connection(url, token) as conn:
            reply = await conn.request({"type": "cover", "cells": [cell]})
            async for message in conn:
                ...

    Args:
        url: The hub's WebSocket endpoint, ``ws://host:port/ws``.
        token: The session JWT sent in `hello`.
        encoding: JSON or msgpack (the WebSocket subprotocol).
        token_provider: Called after a 4401 close for a new token; None (or a
            provider returning None) makes the connection stop with `Unauthorized`.
            Other close codes follow the rule of `clients.recovery.reconnects`.
        resume: Offsets to resume from on the first session (stream → offset).
        backoff: Reconnection delays.
        queue_size: Capacity of the mailbox.
        overflow: The mailbox's overflow policy.
        request_timeout: Default seconds `request` and `send` wait.
        hello_timeout: Seconds to wait for `welcome` after `hello`.
        ping_interval: Seconds between client pings (None: rely on the hub's).
    """

    expected_role: ClassVar[str | None] = None  # role classes check the welcome against it
    # Roles that get a snapshot when they do not resume "events" (consoles, units):
    # `start` returns once it is delivered, so their local state is loaded.
    snapshot_on_start: ClassVar[bool] = False

    def __init__(
        self,
        url: str,
        token: str,
        *,
        encoding: Encoding | str = Encoding.JSON,
        token_provider: TokenProvider | None = None,
        resume: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        queue_size: int = 1024,
        overflow: Overflow = Overflow.BACKPRESSURE,
        request_timeout: float = 10.0,
        hello_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.url = url
        self.encoding = Encoding(encoding)
        self.delivery = Delivery(resume, queue_size, overflow)
        self.backoff = backoff or Backoff()
        self.request_timeout = request_timeout
        self.hello_timeout = hello_timeout
        self.ping_interval = ping_interval
        self.welcome: Message | None = None  # the current (or last) session's welcome
        self.sessions = 0  # sessions opened so far
        self.close_codes: list[int | None] = []  # how each session ended, oldest first
        self.error: ClientError | None = None  # why the connection stopped, if it did
        self._token = token
        self._token_provider = token_provider
        self._pending = PendingRequests()
        self._session: _Session | None = None
        self._live = asyncio.Event()
        self._first_welcome: asyncio.Future[Message] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False

    # -- lifecycle ------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> Message:
        """Open the first session and return its `welcome`.

        Failed attempts are retried with backoff until `timeout`. For roles that
        get a snapshot (consoles, units starting without an "events" offset), it
        returns once that snapshot was delivered to the listeners.

        Raises:
            TimeoutError: No session could be opened within `timeout` seconds.
            Unauthorized: The token was refused and no new one was available.
            ProtocolViolation: The hub closed with a code after which reconnecting
                cannot help (`clients.recovery.reconnects`).
        """
        if self._runner is not None:
            raise RuntimeError("the connection was already started")
        self._first_welcome = asyncio.get_running_loop().create_future()
        wait_snapshot = self.snapshot_on_start and self.delivery.offsets.last("events") is None
        self._runner = asyncio.create_task(self._run(), name=f"vigie-client:{self.url}")
        try:
            async with asyncio.timeout(timeout):
                welcome = await self._first_welcome
                if wait_snapshot:
                    await self.delivery.snapshot_seen.wait()
                if self.error is not None:
                    raise self.error
                return welcome
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the session and stop reconnecting (idempotent).

        Requests still waiting fail with `ClientClosed`; queued messages stay readable.
        """
        self._closing = True
        session = self._session
        if session is not None:
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await session.ws.close()
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.wait([runner])
        self._stop(ClientClosed("the connection was closed"))

    async def __aenter__(self) -> Connection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """True while a session is open and welcomed."""
        return self._live.is_set()

    @property
    def closed(self) -> bool:
        """True once the connection stopped (closed by its owner or by a fatal error)."""
        return self.delivery.mailbox.closed

    # -- receiving --------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(message)` for every delivered message, before it is queued.

        Listeners run in the reader: they must be quick and must not block. An
        exception in a listener is logged and does not stop the connection.
        """
        self.delivery.add_listener(listener)

    @property
    def offsets(self) -> OffsetTracker:
        """The last offset processed per stream (sent as `hello.resume`)."""
        return self.delivery.offsets

    @property
    def mailbox(self) -> Mailbox:
        """The bounded queue that `receive` and iteration read."""
        return self.delivery.mailbox

    @property
    def duplicates(self) -> int:
        """Messages dropped because their offset was already seen."""
        return self.delivery.duplicates

    async def receive(self, timeout: float | None = None) -> Message:
        """The next queued message.

        Raises:
            TimeoutError: Nothing arrived within `timeout` seconds.
            ClientError: The connection stopped (the reason) and the mailbox is empty.
        """
        async with asyncio.timeout(timeout):
            message = await self.delivery.mailbox.get()
        if message is None:
            raise self.error or ClientClosed("the connection was closed")
        return message

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while (message := await self.delivery.mailbox.get()) is not None:
            yield message
        if self.error is not None and not isinstance(self.error, ClientClosed):
            raise self.error

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Message, timeout: float | None = None) -> None:
        """Send a message without waiting for a reply, waiting for a live session first.

        Raises:
            TimeoutError: Not sent within `timeout` seconds (default: request_timeout).
            ConnectionLost: The session ended while sending.
            ClientError: The connection stopped.
        """
        async with asyncio.timeout(self.request_timeout if timeout is None else timeout):
            await self._send_on(await self._live_session(), message)

    async def request(
        self, message: Message, timeout: float | None = None, *, resend: bool = False
    ) -> Message:
        """Send a message with a `ref` and return the reply carrying that `ref`.

        The reply is whatever the hub answered: `ok`, `error`, `alert.ack`, or a
        command's result (`recommendation`, `incident.history`). A `ref` is
        generated when the message has none.

        Args:
            message: The message; not modified.
            timeout: Seconds to wait for the reply (default: request_timeout).
            resend: Send the message again on each new session until answered.
                Only for messages the hub treats idempotently (`alert.submit`).

        Raises:
            RequestTimeout: No reply within `timeout`.
            ConnectionLost: The session ended before the reply (resend=False).
            ClientError: The connection stopped.
        """
        if self.error is not None:
            raise self.error
        pending = self._pending.open(message, resend=resend)
        timeout = self.request_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                await self._send_first(pending)
                return await pending.future
        except TimeoutError as exc:
            what = f"{message.get('type')} {pending.ref}"
            raise RequestTimeout(f"no reply to {what} in {timeout}s") from exc
        finally:
            self._pending.forget(pending)

    async def _send_first(self, pending: PendingRequest) -> None:
        if not pending.resend:
            await self._send_pending(pending)
        elif self._live.is_set():
            # A resent request survives a lost session: the next welcome sends it again.
            with contextlib.suppress(ConnectionLost):
                await self._send_pending(pending)

    async def _live_session(self) -> _Session:
        """The live session, waiting for one if we are between sessions."""
        while True:
            if self.error is not None:
                raise self.error
            if self._live.is_set() and self._session is not None:
                return self._session
            await self._live.wait()

    async def _send_pending(self, pending: PendingRequest) -> None:
        session = await self._live_session()
        if pending.session == session.number:
            return  # already sent on this session
        # Marked before the await: a session ending mid-send must fail this request.
        pending.session = session.number
        await self._send_on(session, pending.message)

    async def _send_on(self, session: _Session, message: Message) -> None:
        try:
            await session.ws.send(encode(message, self.encoding))
        except ConnectionClosed as exc:
            raise ConnectionLost(f"session closed while sending {message.get('type')}") from exc

    # -- the supervisor: sessions, close codes, backoff -------------------------------

    async def _run(self) -> None:
        attempt, refused = 0, 0
        try:
            while not self._closing:
                live_s, code, reason = await self._one_session()
                self.close_codes.append(code)
                if self._closing:
                    return
                action = action_for_close(code)
                log.info("session ended (close %s %r): %s", code, reason, action.value)
                if action is Action.STOP:
                    raise ProtocolViolation(
                        code or 0,
                        f"the hub closed the session with {code} ({reason or 'no reason'}): "
                        "reconnecting cannot help (docs/protocol.md, Close codes)",
                    )
                refused = refused + 1 if action is Action.REAUTHENTICATE else 0
                if action is Action.REAUTHENTICATE:
                    await self._new_token(refused)
                if live_s >= self.backoff.stable_after_s:
                    attempt = 0
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1
        except ClientError as exc:
            self._stop(exc)
        except Exception as exc:  # a bug here must stop the connection visibly, not hang it
            log.exception("client connection to %s failed", self.url)
            self._stop(ClientError(f"client failure: {exc!r}"))

    async def _new_token(self, refused_in_a_row: int) -> None:
        if self._token_provider is None:
            raise Unauthorized("the hub refused the token (4401) and there is no token_provider")
        if refused_in_a_row > MAX_REAUTH_IN_A_ROW:
            raise Unauthorized(f"the hub refused {refused_in_a_row} tokens in a row")
        async with asyncio.timeout(self.request_timeout):
            token = await self._token_provider()
        if not token:
            raise Unauthorized("the hub refused the token (4401); the provider gave no new one")
        self._token = token

    async def _one_session(self) -> tuple[float, int | None, str]:
        """Run one session to its end: (seconds it was live, close code or None, reason)."""
        try:
            ws = await connect(
                self.url,
                subprotocols=[Subprotocol(self.encoding.subprotocol)],
                open_timeout=self.hello_timeout,
                max_size=MAX_INCOMING_BYTES,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_interval,
                close_timeout=CLOSE_TIMEOUT_S,
            )
        except InvalidURI as exc:
            raise ClientError(f"bad hub URL {self.url!r}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            log.info("cannot connect to %s: %s", self.url, exc)
            return 0.0, None, ""
        session = _Session(self.sessions + 1, ws)
        try:
            code = await self._converse(session)
        finally:
            self._end_session(session)
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await ws.close()
        return session.live_seconds(), code, ws.close_reason or ""

    async def _converse(self, session: _Session) -> int:
        """Say hello, then read until the session ends; returns the close code."""
        ws = session.ws
        hello: Message = {"type": "hello", "token": self._token}
        if resume := self.delivery.offsets.resume():
            hello["resume"] = resume
        try:
            async with asyncio.timeout(self.hello_timeout):
                await ws.send(encode(hello, self.encoding))
                welcome = await self._read_welcome(ws)
            if welcome is None:
                return ws.close_code or ABNORMAL_CLOSURE
            await self._welcomed(session, welcome)
            async for frame in ws:
                await self._on_frame(frame)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else ABNORMAL_CLOSURE
        except TimeoutError:
            log.info("no welcome from %s within %ss", self.url, self.hello_timeout)
            return ABNORMAL_CLOSURE
        return ws.close_code or ABNORMAL_CLOSURE

    async def _read_welcome(self, ws: ClientConnection) -> Message | None:
        try:
            message = decode(await ws.recv())
        except DecodeError as exc:
            log.warning("undecodable first frame from the hub: %s", exc)
            return None
        if message["type"] != "welcome":
            log.warning("expected welcome, got %s", message["type"])
            return None
        role = message.get("role")
        if self.expected_role is not None and role != self.expected_role:
            raise ProtocolViolation(0, f"a {type(self).__name__} needs a {self.expected_role} "
                                       f"token, the hub says this one is for a {role}")  # fmt: skip
        return message

    async def _welcomed(self, session: _Session, welcome: Message) -> None:
        self.sessions = session.number
        self.welcome = welcome
        self._session = session
        session.welcomed_at = time.monotonic()
        self._live.set()
        if self._first_welcome is not None and not self._first_welcome.done():
            self._first_welcome.set_result(welcome)
        await self.delivery.deliver(welcome)
        for pending in self._pending:
            if pending.resend:
                # Lost or slow now: the next session sends it again; its request times out.
                with contextlib.suppress(ConnectionLost, TimeoutError):
                    async with asyncio.timeout(self.request_timeout):
                        await self._send_pending(pending)

    def _end_session(self, session: _Session) -> None:
        if self._session is session:
            self._session = None
        self._live.clear()
        self._pending.session_lost(session.number)

    def _stop(self, error: ClientError) -> None:
        """Stop for good: fail waiting requests, wake senders, close the mailbox."""
        if self.error is None:
            self.error = error  # the first reason wins: a fatal close, or our own close()
        self._closing = True
        self._live.clear()
        if self._first_welcome is not None and not self._first_welcome.done():
            self._first_welcome.set_exception(self.error)
        self._pending.fail_all(self.error)
        # Senders waiting for a live session, and `start`, re-check `error` once woken.
        self._live.set()
        self._live.clear()
        self.delivery.snapshot_seen.set()
        self.delivery.mailbox.close()

    # -- the reader -------------------------------------------------------------------

    async def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = decode(frame)
        except DecodeError as exc:
            log.warning("dropping a frame from the hub: %s", exc)
            return
        if not self._pending.answer(message):
            await self.delivery.deliver(message)
