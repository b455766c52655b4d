"""RFC 6455 framing of the hand-written clients (scripts/bench/frames.py), bytes only.

Server frames are made, and client frames read back, by websockets' own `Frame`:
an independent implementation of the same RFC.
"""

from __future__ import annotations

import struct

import pytest
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
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.utils import accept_key


def server(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    """A frame as a server sends it (unmasked)."""
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def client_frames(data: bytes) -> list[Frame]:
    """Parse what a client sent, as a server does (every frame must be masked)."""
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=True)
        with pytest.raises(StopIteration) as done:
            next(parser)
        frames.append(done.value.value)
    return frames


def test_a_ping_is_answered_with_a_pong_carrying_its_payload() -> None:
    reader = FrameReader()
    assert reader.feed(server(Opcode.PING, b"hb-42")) == []
    (pong,) = client_frames(reader.data_to_send())
    assert pong.opcode is Opcode.PONG and pong.data == b"hb-42" and pong.fin
    assert reader.pings == 1
    assert reader.data_to_send() == b""  # owed once


def test_a_pong_is_ignored() -> None:
    reader = FrameReader()
    assert reader.feed(server(Opcode.PONG, b"x")) == []
    assert reader.data_to_send() == b"" and not reader.closed


def test_a_fragmented_message_is_reassembled_with_a_ping_between_fragments() -> None:
    reader = FrameReader()
    wire = (
        server(Opcode.TEXT, b'{"type":', fin=False)
        + server(Opcode.CONT, b' "welcome"', fin=False)
        + server(Opcode.PING, b"p")
        + server(Opcode.CONT, b"}")
        + server(Opcode.BINARY, b"\x81\xa1a\x01")
    )
    assert reader.feed(wire) == [(OP_TEXT, b'{"type": "welcome"}'), (OP_BINARY, b"\x81\xa1a\x01")]
    (pong,) = client_frames(reader.data_to_send())
    assert pong.opcode is Opcode.PONG and pong.data == b"p"


def test_frames_split_anywhere_give_the_same_messages() -> None:
    big = bytes(range(256)) * 300  # 76,800 bytes: a 64-bit length
    wire = (
        server(Opcode.TEXT, b"a" * 125)
        + server(Opcode.TEXT, b"b" * 126, fin=False)  # a 16-bit length
        + server(Opcode.CONT, b"c" * 70_000)
        + server(Opcode.BINARY, big)
        + server(Opcode.TEXT, b"")
    )
    whole = FrameReader().feed(wire)
    reader = FrameReader()
    pieces = [m for i in range(0, len(wire), 7) for m in reader.feed(wire[i : i + 7])]
    assert (
        pieces
        == whole
        == [
            (OP_TEXT, b"a" * 125),
            (OP_TEXT, b"b" * 126 + b"c" * 70_000),
            (OP_BINARY, big),
            (OP_TEXT, b""),
        ]
    )


def test_the_servers_close_is_answered_with_its_code_then_later_bytes_are_discarded() -> None:
    reader = FrameReader()
    wire = server(Opcode.TEXT, b"last") + server(Opcode.CLOSE, struct.pack("!H", 1012) + b"bye")
    assert reader.feed(wire + server(Opcode.TEXT, b"after")) == [(OP_TEXT, b"last")]
    assert reader.closed and reader.close_code == 1012
    (echo,) = client_frames(reader.data_to_send())
    assert echo.opcode is Opcode.CLOSE and echo.data == struct.pack("!H", 1012)
    assert reader.feed(server(Opcode.PING, b"late")) == [] and reader.data_to_send() == b""


def test_a_close_without_a_code_is_1005_and_answered_with_an_empty_close() -> None:
    reader = FrameReader()
    reader.feed(server(Opcode.CLOSE, b""))
    assert reader.close_code == 1005
    (echo,) = client_frames(reader.data_to_send())
    assert echo.opcode is Opcode.CLOSE and echo.data == b""


def test_after_the_clients_own_close_the_servers_echo_is_not_answered() -> None:
    reader = FrameReader()
    (sent,) = client_frames(reader.send_close(1000))
    assert sent.opcode is Opcode.CLOSE and sent.data == struct.pack("!H", 1000)
    reader.feed(server(Opcode.CLOSE, struct.pack("!H", 1000)))
    assert reader.close_code == 1000 and reader.data_to_send() == b""


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (Frame(Opcode.TEXT, b"x").serialize(mask=True), "masked"),
        (server(Opcode.CONT, b"x"), "continuation"),
        (server(Opcode.TEXT, b"a", fin=False) + server(Opcode.TEXT, b"b"), "new message"),
        (b"\x09\x01a", "control frame"),  # a ping without FIN
        (b"\x89\x7e\x00\x80" + b"p" * 128, "control frame"),  # a 128-byte ping
        (b"\xc1\x01x", "reserved bits"),  # RSV1 without an extension
        (b"\x83\x00", "opcode"),
        (b"\x88\x01\x03", "1-byte"),  # a close with half a code
    ],
    ids=[
        "masked", "stray-continuation", "interleaved", "fragmented-ping", "long-ping", "rsv1",
        "unknown-opcode", "short-close",
    ],
)  # fmt: skip
def test_what_rfc_6455_forbids_a_server_is_a_protocol_error(wire: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        FrameReader().feed(wire)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 100_000])
def test_client_frames_are_masked_and_read_back_by_websockets(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    (frame,) = client_frames(encode_frame(OP_BINARY, payload))
    assert frame.opcode is Opcode.BINARY and frame.data == payload and frame.fin
    (part,) = client_frames(encode_frame(OP_TEXT, b"half", fin=False))
    assert part.opcode is Opcode.TEXT and not part.fin


def test_the_handshake_checks_the_servers_accept_key() -> None:
    request, key = handshake_request("127.0.0.1", 8000, "/ws", "vigie.v1.json")
    assert request.startswith(b"GET /ws HTTP/1.1\r\n") and request.endswith(b"\r\n\r\n")
    assert f"Sec-WebSocket-Key: {key}".encode() in request
    assert b"Sec-WebSocket-Protocol: vigie.v1.json" in request
    good = f"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {accept_key(key)}"
    check_response(good.encode(), key)
    with pytest.raises(HandshakeError, match="Accept"):
        check_response(b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x", key)
    with pytest.raises(HandshakeError, match="429"):
        check_response(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1", key)
