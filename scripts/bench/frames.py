"""RFC 6455, client side, without I/O: the opening handshake, frames out and in.

One implementation for every hand-written WebSocket client of the project: the
load generator's lean client (`bench/wsclient.py`) and the tests' raw sockets
(`tests/integration/fault_tools.py`). They own their sockets; this module only
turns bytes into messages and says what to send back.

Why not websockets' sans-I/O `ClientProtocol`, which does the same: its
generator-driven parser costs 2.2 µs a frame against 0.66 µs here (430-byte
frames, one per read; 1.7 against 0.4 µs read 64 KiB at a time), and the fan-out
benchmark receives up to 115,000 frames a second on the machine it measures,
beside the hub under test: ~17 % of a core more for the load generator. The
tests check this module against websockets' own `Frame` (tests/unit/test_frames.py).

What the server may send, and what the reader does (RFC 6455 §5):

* text / binary, possibly fragmented (§5.4): reassembled, handed out as one
  message with the first fragment's opcode; control frames may come between
  fragments;
* ping (§5.5.2): answered with a pong carrying the same payload;
* pong (§5.5.3): ignored;
* close (§5.5.1): answered with a close echoing its code (unless the client
  closed first), then every later byte is discarded (§1.4);
* anything else — a masked frame, reserved bits, an unknown opcode, a fragmented
  or oversized control frame, a continuation out of place — is a `ProtocolError`
  (the client should close 1002).
"""

from __future__ import annotations

import random
import struct

from websockets.utils import accept_key, generate_key

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C speedups are optional in websockets
    from websockets.utils import apply_mask

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameReader",
    "HandshakeError",
    "Message",
    "ProtocolError",
    "check_response",
    "encode_frame",
    "handshake_request",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
DATA_OPCODES = frozenset({OP_TEXT, OP_BINARY})
CONTROL_OPCODES = frozenset({OP_CLOSE, OP_PING, OP_PONG})
NO_STATUS = 1005  # §7.1.5: the close frame carried no code

Message = tuple[int, bytes]  # (OP_TEXT or OP_BINARY, the whole payload)


class HandshakeError(ConnectionError):
    """The server did not upgrade the connection as RFC 6455 requires."""


class ProtocolError(ValueError):
    """The server sent bytes RFC 6455 forbids (the client should close 1002)."""


# -- the opening handshake (§4.1) ------------------------------------------------------------


def handshake_request(
    host: str, port: int, path: str = "/", subprotocol: str | None = None
) -> tuple[bytes, str]:
    """The client's upgrade request and its Sec-WebSocket-Key (to check the answer)."""
    key = generate_key()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def check_response(head: bytes, key: str) -> None:
    """Check the server's response head (without the blank line) to `key`'s request.

    Raises:
        HandshakeError: not a 101 upgrade, or a wrong Sec-WebSocket-Accept.
    """
    status, *header_lines = head.decode("latin-1").split("\r\n")
    if status.split(" ", 2)[1:2] != ["101"]:
        raise HandshakeError(f"server answered {status!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("sec-websocket-accept") != accept_key(key):
        raise HandshakeError("bad Sec-WebSocket-Accept")


# -- frames out (§5.2, §5.3) ------------------------------------------------------------------


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One client frame: masked, as §5.3 requires of every frame a client sends."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", first, 0xFE, n)
    else:
        head = struct.pack("!BBQ", first, 0xFF, n)
    # A load generator's mask need not be a cryptographic secret (it stops proxy
    # cache poisoning, §10.3); getrandbits costs 45 ns, os.urandom 300 ns.
    mask = random.getrandbits(32).to_bytes(4, "little")
    return head + mask + apply_mask(payload, mask)


def close_payload(code: int) -> bytes:
    """The payload of a close frame with `code` and no reason."""
    return struct.pack("!H", code)


# -- frames in --------------------------------------------------------------------------------


class FrameReader:
    """The receiving half of a client connection, after the handshake.

    `feed(data)` returns the complete messages in `data` (with what came before);
    `data_to_send()` then returns the answers owed to the server (pongs, the
    close echo), to be written before anything else.
    """

    __slots__ = ("_buf", "_frag_opcode", "_frags", "_out", "close_code", "close_sent", "pings")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._out = bytearray()
        self._frags: list[bytes] = []
        self._frag_opcode: int | None = None  # opcode of the message being reassembled
        self.close_code: int | None = None  # the code of the server's close frame, once in
        self.close_sent = False  # the client sent its close frame (`send_close`)
        self.pings = 0  # pings received (and answered)

    @property
    def closed(self) -> bool:
        """True once the server's close frame arrived (later bytes are discarded)."""
        return self.close_code is not None

    def send_close(self, code: int = 1000) -> bytes:
        """The client's close frame (the server's echo will not be answered again)."""
        self.close_sent = True
        return encode_frame(OP_CLOSE, close_payload(code))

    def data_to_send(self) -> bytes:
        """Bytes owed to the server since the last call (b"" most of the time)."""
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out.clear()
        return out

    def feed(self, data: bytes) -> list[Message]:
        """Parse `data`; the messages completed by it, in order.

        Raises:
            ProtocolError: the server broke RFC 6455 (the reader is then unusable).
        """
        if self.close_code is not None:
            return []  # §1.4: after the close frame, discard
        buf = self._buf
        buf += data
        messages: list[Message] = []
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
            if b1 & 0x80 or b0 & 0x70:
                raise ProtocolError("masked server frame" if b1 & 0x80 else "reserved bits set")
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            message = self._frame(b0 & 0x0F, bool(b0 & 0x80), payload)
            if message is not None:
                messages.append(message)
            if self.close_code is not None:
                buf.clear()
                return messages
        if pos:
            del buf[:pos]
        return messages

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> Message | None:
        if opcode in DATA_OPCODES:
            if self._frag_opcode is not None:
                raise ProtocolError("a new message inside a fragmented one")
            if fin:
                return opcode, payload
            self._frag_opcode = opcode
            self._frags.append(payload)
            return None
        if opcode == OP_CONT:
            if self._frag_opcode is None:
                raise ProtocolError("continuation frame without a message to continue")
            self._frags.append(payload)
            if not fin:
                return None
            message = self._frag_opcode, b"".join(self._frags)
            self._frags.clear()
            self._frag_opcode = None
            return message
        if opcode not in CONTROL_OPCODES:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        if not fin or len(payload) > 125:
            raise ProtocolError("fragmented or oversized control frame")
        if opcode == OP_PING:
            self.pings += 1
            self._out += encode_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            if len(payload) == 1:
                raise ProtocolError("close frame with a 1-byte payload")
            self.close_code = struct.unpack("!H", payload[:2])[0] if payload else NO_STATUS
            if not self.close_sent:  # echo the code (§5.5.1); no code: an empty close
                self.close_sent = True
                self._out += encode_frame(OP_CLOSE, payload[:2])
        return None  # a pong: nothing to do
