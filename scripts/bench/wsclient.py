"""A lean WebSocket client for load generation: one asyncio Protocol per socket.

Why not the `clients/` library here: its `Connection` runs a reader task, a
bounded mailbox, offset tracking and listeners for every socket — right for an
app, but thousands of them in one process spend the load generator's CPU and
skew the latencies it measures. This client speaks the same RFC 6455 and the
same v1 protocol (the codec is `clients.codec`'s), with no task per socket:
frames are parsed in `data_received` and handed to a callback.

Rules it relies on: server frames are unmasked and unfragmented (uvicorn and
websockets send one frame per message); client frames are masked (RFC 6455
§5.3); pings are answered at once (§5.5.2).
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.utils import accept_key, generate_key

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C speedups are optional in websockets
    from websockets.utils import apply_mask

__all__ = ["OP_BINARY", "OP_TEXT", "HandshakeError", "WsClient", "open_client"]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HEAD = 16 * 1024

OnMessage = Callable[[int, bytes], None]


class HandshakeError(ConnectionError):
    """The server did not upgrade the connection as RFC 6455 requires."""


class WsClient(asyncio.Protocol):
    """One client socket. `on_message(opcode, payload)` gets every data frame."""

    __slots__ = (
        "_buf",
        "_frags",
        "_head",
        "_key",
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
        self.close_code: int | None = None
        self.received = 0
        self._key = generate_key()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._head: bytearray | None = bytearray()  # None once the handshake is done
        self._buf = bytearray()
        self._frags: list[bytes] = []

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
            head, rest = bytes(self._head[:end]), bytes(self._head[end + 4 :])
            self._head = None
            error = self._check_response(head)
            if error is not None:
                self._fail(error)
                return
            self.opened.set_result(None)
            data = rest
        self._buf += data
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    # -- frames -----------------------------------------------------------------------

    def _check_response(self, head: bytes) -> Exception | None:
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if status.split(" ", 2)[1:2] != ["101"]:
            return HandshakeError(f"server answered {status!r}")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            return HandshakeError("bad Sec-WebSocket-Accept")
        return None

    def _parse(self) -> None:
        buf = self._buf
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                length, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif length == 127:
                if end - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                head = 10
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0, payload)
        if pos:
            del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if not b0 & 0x80:  # not final: keep the fragment (the hub never fragments)
                self._frags.append(payload)
                return
            if self._frags:
                payload = b"".join([*self._frags, payload])
                self._frags.clear()
            self.received += 1
            self.on_message(opcode, payload)
        elif opcode == OP_PING:
            self._send_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            if self.close_code is None:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self._send_frame(OP_CLOSE, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        mask = random.getrandbits(32).to_bytes(4, "little")
        transport.write(head + mask + apply_mask(payload, mask))

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
        self._send_frame(OP_TEXT, data)

    def send_binary(self, data: bytes) -> None:
        """Send one binary frame."""
        self._send_frame(OP_BINARY, data)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (the server answers, then drops the socket)."""
        if self.close_code is None:
            self.close_code = code
            self._send_frame(OP_CLOSE, struct.pack("!H", code))


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
    async with asyncio.timeout(timeout):
        _, client = await loop.create_connection(
            lambda: WsClient(host, port, parts.path or "/", subprotocol), host, port
        )
        await client.opened
    return client


def decode_any(opcode: int, payload: bytes) -> Any:
    """Decode a frame of either v1 codec (text: JSON, binary: msgpack)."""
    import msgpack
    import orjson

    if opcode == OP_TEXT:
        return orjson.loads(payload)
    return msgpack.unpackb(payload, raw=False)
