"""A lean WebSocket client for load generation: one asyncio Protocol per socket.

Why not the `clients/` library here: its `Connection` runs a reader task, a
bounded mailbox, offset tracking and listeners for every socket — right for an
app, but thousands of them in one process spend the load generator's CPU and
skew the latencies it measures. This client speaks the same RFC 6455 (the
framing is `bench.frames`, shared with the tests' raw clients) and the same v1
protocol (the codec is `clients.codec`'s), with no task per socket: frames are
parsed in `data_received`, pings and closes answered there, and each complete
message handed to a callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.frames import (
    OP_BINARY,
    OP_TEXT,
    FrameReader,
    HandshakeError,
    ProtocolError,
    check_response,
    encode_frame,
    handshake_request,
)

__all__ = ["OP_BINARY", "OP_TEXT", "HandshakeError", "WsClient", "open_client"]

MAX_HEAD = 16 * 1024
PROTOCOL_ERROR = 1002

OnMessage = Callable[[int, bytes], None]


class WsClient(asyncio.Protocol):
    """One client socket. `on_message(opcode, payload)` gets every data message."""

    __slots__ = (
        "_head",
        "_key",
        "_reader",
        "_request",
        "close_code",
        "closed",
        "on_message",
        "opened",
        "received",
        "transport",
    )

    def __init__(self, host: str, port: int, path: str, subprotocol: str | None) -> None:
        loop = asyncio.get_running_loop()
        self.on_message: OnMessage = _ignore
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self.close_code: int | None = None  # the server's, or ours if we closed first
        self.received = 0
        self._request, self._key = handshake_request(host, port, path, subprotocol)
        self._head: bytearray | None = bytearray()  # None once the handshake is done
        self._reader = FrameReader()

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is no subclass)
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self._head is not None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD:
                    self._fail(HandshakeError("response head too large"))
                return
            head, data = bytes(self._head[:end]), bytes(self._head[end + 4 :])
            self._head = None
            try:
                check_response(head, self._key)
            except HandshakeError as exc:
                self._fail(exc)
                return
            self.opened.set_result(None)
        reader = self._reader
        try:
            messages = reader.feed(data)
        except ProtocolError:  # fail the connection (§7.1.7): 1002, then drop it
            self.close(PROTOCOL_ERROR)
            if self.transport is not None:
                self.transport.close()
            return
        if reply := reader.data_to_send():  # pongs, the close echo: before anything else
            self._write(reply)
        for opcode, payload in messages:
            self.received += 1
            self.on_message(opcode, payload)
        if reader.closed:
            if self.close_code is None:
                self.close_code = reader.close_code
            if self.transport is not None:
                self.transport.close()  # after the echo is flushed

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    # -- internals --------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # -- API --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the socket is open and not closing."""
        return (
            self.transport is not None
            and not self.transport.is_closing()
            and self.close_code is None
        )

    def send_text(self, data: bytes) -> None:
        """Send one text frame (UTF-8 bytes)."""
        if self.close_code is None:
            self._write(encode_frame(OP_TEXT, data))

    def send_binary(self, data: bytes) -> None:
        """Send one binary frame."""
        if self.close_code is None:
            self._write(encode_frame(OP_BINARY, data))

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (the server answers, then drops the socket)."""
        if self.close_code is None:
            self.close_code = code
            self._write(self._reader.send_close(code))


def _ignore(opcode: int, payload: bytes) -> None:
    del opcode, payload


async def open_client(url: str, subprotocol: str | None, timeout: float = 10.0) -> WsClient:
    """Connect and complete the opening handshake.

    Raises:
        OSError, HandshakeError, TimeoutError: the connection could not be opened.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    client: WsClient | None = None
    try:
        async with asyncio.timeout(timeout):
            _, client = await loop.create_connection(
                lambda: WsClient(host, port, parts.path or "/", subprotocol), host, port
            )
            await client.opened
    except BaseException:  # timed out or cancelled mid-handshake: no socket left open
        if client is not None and client.transport is not None:
            client.transport.abort()
        raise
    return client


def decode_any(opcode: int, payload: bytes) -> Any:
    """Decode a message of either v1 codec (text: JSON, binary: msgpack)."""
    import msgpack
    import orjson

    if opcode == OP_TEXT:
        return orjson.loads(payload)
    return msgpack.unpackb(payload, raw=False)
