"""The heartbeat wheel (one timer for every connection) and the frames built once."""

from __future__ import annotations

import asyncio

from websockets.frames import Frame, Opcode

from hub.server.heartbeat import HeartbeatWheel
from hub.server.websocket import wire_frame


class Conn:
    def __init__(self) -> None:
        self.heartbeat_slot = -1
        self.beats = 0

    def heartbeat(self) -> None:
        self.beats += 1


class Broken(Conn):
    def heartbeat(self) -> None:
        raise RuntimeError("boom")


async def test_every_connection_is_visited_once_a_period_by_one_timer() -> None:
    wheel = HeartbeatWheel(0.2, slots=4)
    conns = [Conn() for _ in range(10)]
    for conn in conns:
        wheel.add(conn)
    assert sorted({c.heartbeat_slot for c in conns}) == [0, 1, 2, 3]  # dealt round robin
    await asyncio.sleep(0.5)  # two periods and a half
    wheel.stop()
    assert all(2 <= c.beats <= 3 for c in conns), [c.beats for c in conns]


async def test_a_discarded_connection_is_not_visited_and_a_failing_one_not_again() -> None:
    wheel = HeartbeatWheel(0.1, slots=2)
    gone, broken, kept = Conn(), Broken(), Conn()
    for conn in (gone, broken, kept):
        wheel.add(conn)
    wheel.discard(gone)
    await asyncio.sleep(0.35)
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
