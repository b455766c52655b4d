"""The heartbeat wheel (one timer for every connection) and the frames built once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from hub.server.heartbeat import PING_FRAME, SLOTS, HeartbeatWheel, between_frames, is_empty_pong
from hub.server.websocket import wire_frame


class Conn:
    def __init__(self) -> None:
        self.heartbeat_slot = -1
        self.beats = 0

    def heartbeat(self) -> None:
        self.beats += 1


async def _until(done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done():
        assert loop.time() < deadline, "the wheel did not turn in time"
        await asyncio.sleep(0.01)


class Broken(Conn):
    def heartbeat(self) -> None:
        raise RuntimeError("boom")


async def test_every_connection_is_visited_once_a_period_by_one_timer() -> None:
    wheel = HeartbeatWheel(0.2, slots=4)
    conns = [Conn() for _ in range(10)]
    for conn in conns:
        wheel.add(conn)
    assert sorted({c.heartbeat_slot for c in conns}) == [0, 1, 2, 3]  # dealt round robin
    # Until everyone had two visits (on a loaded machine ticks come late: no fixed
    # sleep), then: nobody got a second visit before another got its first.
    await _until(lambda: min(c.beats for c in conns) >= 2)
    wheel.stop()
    beats = [c.beats for c in conns]
    assert max(beats) - min(beats) <= 1, beats


async def test_a_discarded_connection_is_not_visited_and_a_failing_one_not_again() -> None:
    wheel = HeartbeatWheel(0.1, slots=2)
    gone, broken, kept = Conn(), Broken(), Conn()
    for conn in (gone, broken, kept):
        wheel.add(conn)
    wheel.discard(gone)
    await _until(lambda: kept.beats >= 2)
    wheel.stop()
    assert gone.beats == 0 and kept.beats >= 2
    assert len(wheel) == 1  # the broken one was dropped, the wheel went on


def test_heartbeats_off_keep_no_connection() -> None:
    wheel = HeartbeatWheel(0)
    wheel.add(Conn())
    assert len(wheel) == 0


def test_a_frame_is_built_once_per_event_and_parses_as_websockets_frame() -> None:
    text = '{"type":"incident"}'
    first = wire_frame(text)
    assert wire_frame(text) is first  # the same object for the next recipient
    assert first == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    packed = b"\x81\xa4type\xa8incident"
    assert wire_frame(packed) == Frame(Opcode.BINARY, packed).serialize(mask=False)
    assert wire_frame(text) is first  # a binary frame in between does not evict the text
    big = "x" * 70_000  # the 64-bit length form
    assert wire_frame(big)[:2] == b"\x81\x7f"


def open_pair() -> tuple[ServerProtocol, ClientProtocol]:
    """A server protocol past its handshake, and a client to build masked frames."""
    client = ClientProtocol(parse_uri("ws://hub/ws"))
    client.send_request(client.connect())
    server = ServerProtocol(logger=logging.getLogger("test"))
    server.receive_data(b"".join(client.data_to_send()))
    (request,) = server.events_received()
    server.send_response(server.accept(request))
    server.data_to_send()
    client.state = State.OPEN  # its handshake is not what is tested
    return server, client


def client_frame(client: ClientProtocol, opcode: Opcode, data: bytes) -> bytes:
    client.send_frame(Frame(opcode, data))
    (wire,) = client.data_to_send()
    return wire


def test_the_ping_is_an_empty_unmasked_ping_frame() -> None:
    assert PING_FRAME == Frame(Opcode.PING, b"").serialize(mask=False) == b"\x89\x00"


def is_lone_pong(server: ServerProtocol, data: bytes) -> bool:
    """What the hub's protocol checks before it skips the parser (between_frames
    is read after each feed there, and cleared once it closes)."""
    return between_frames(server) and is_empty_pong(data)


def test_a_lone_pong_is_recognised_only_between_frames() -> None:
    server, client = open_pair()
    pong = client_frame(client, Opcode.PONG, b"")
    assert between_frames(server) and is_lone_pong(server, pong)
    text = client_frame(client, Opcode.TEXT, b"hello")
    server.receive_data(text[:2])  # a frame's header read, its mask and payload not yet
    assert not between_frames(server) and not is_lone_pong(server, pong)
    server.receive_data(text[2:])
    assert [e.opcode for e in server.events_received()] == [Opcode.TEXT]
    assert is_lone_pong(server, pong)  # the frame is complete: between frames again


def test_other_bytes_are_not_a_lone_pong() -> None:
    server, client = open_pair()
    pong = client_frame(client, Opcode.PONG, b"")
    assert not is_empty_pong(client_frame(client, Opcode.PONG, b"abcd"))  # a payload
    assert not is_empty_pong(client_frame(client, Opcode.PING, b""))
    assert not is_empty_pong(pong[:3])  # half a pong: the parser takes it
    assert not is_empty_pong(pong + pong)  # two frames at once: the parser too
    assert not is_empty_pong(b"\x8a\x00")  # unmasked: the parser fails it (1002)
    server.send_close(1000, "")
    assert not is_lone_pong(server, pong)  # closing: websockets decides


async def test_a_tick_of_the_default_wheel_visits_a_small_share_of_many_connections() -> None:
    """A tick pings its whole bucket in one loop turn: the bucket's size bounds that turn."""
    wheel = HeartbeatWheel(25.0)
    conns = [Conn() for _ in range(10_000)]
    for conn in conns:
        wheel.add(conn)
    wheel.stop()
    per_bucket = Counter(c.heartbeat_slot for c in conns)
    assert len(per_bucket) == SLOTS and max(per_bucket.values()) <= 100
    assert wheel.period_s / SLOTS <= 0.25  # and the wheel turns often enough to keep up
