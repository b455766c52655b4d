"""The frames of one turn are written once per connection (hub.server.cork)."""

from __future__ import annotations

import asyncio

from hub.server.cork import Cork


class Conn:
    """A connection that counts its uncorks and what they wrote."""

    def __init__(self, cork: Cork) -> None:
        self.cork = cork
        self.held: list[bytes] = []
        self.writes: list[list[bytes]] = []

    def take(self, frame: bytes) -> None:
        if not self.held:
            self.cork.hold(self)
        self.held.append(frame)

    def uncork(self) -> None:
        if self.held:
            self.writes.append(self.held)
            self.held = []


async def _next_pass() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_the_frames_of_a_turn_go_in_one_write_per_connection_on_the_next_pass() -> None:
    cork = Cork()
    a, b = Conn(cork), Conn(cork)
    for n in range(3):
        a.take(b"a%d" % n)
        b.take(b"b%d" % n)
    assert len(cork) == 2 and not a.writes  # held: nothing written within the turn
    await _next_pass()
    assert a.writes == [[b"a0", b"a1", b"a2"]] and b.writes == [[b"b0", b"b1", b"b2"]]
    assert len(cork) == 0


async def test_an_explicit_flush_writes_at_once_and_a_later_hold_still_gets_its_pass() -> None:
    cork = Cork()
    a = Conn(cork)
    a.take(b"1")
    cork.flush()  # the end of a batch (a stream read, a reply)
    assert a.writes == [[b"1"]]
    a.take(b"2")  # same turn, after the flush: the scheduled pass writes it
    await _next_pass()
    assert a.writes == [[b"1"], [b"2"]]
    cork.flush()
    assert a.writes == [[b"1"], [b"2"]]  # nothing held: nothing written


async def test_a_connection_that_uncorked_itself_is_not_written_twice() -> None:
    cork = Cork()
    a = Conn(cork)
    a.take(b"1")
    a.uncork()  # over its byte bound, or a close frame that must follow the data
    a.take(b"2")  # holds again: listed twice, written once per frame
    cork.flush()
    assert a.writes == [[b"1"], [b"2"]]


async def test_a_hold_made_while_flushing_is_written_by_the_same_flush() -> None:
    cork = Cork()
    late = Conn(cork)

    class Chaining(Conn):
        def uncork(self) -> None:
            super().uncork()
            late.take(b"late")  # e.g. a write that wakes another connection's frame

    first = Chaining(cork)
    first.take(b"x")
    cork.flush()
    assert first.writes == [[b"x"]] and late.writes == [[b"late"]]
