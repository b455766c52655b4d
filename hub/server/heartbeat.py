"""One heartbeat wheel for every WebSocket connection of a process.

A timer per connection (uvicorn arms a ping timer and a pong timer for each)
costs 10,000 timer handles and wakes the loop 10,000 times per period, in
bursts when sessions connected together. Here one timer turns a wheel of
SLOTS buckets, one bucket per tick of `period_s / SLOTS`: each connection sits
in one bucket (dealt round robin, so a burst of connections is spread over
the period) and is visited once a period. A visit pings it, unless the ping
of the previous visit is still unanswered: then it has been silent for a whole
period and is dropped (1011), as uvicorn does with ping timeout = interval.

At rest the heartbeat is most of what a hub does (10,000 sessions at 25 s:
400 pings and 400 pongs a second), so both are made cheap: the ping is one
pre-built frame (`PING_FRAME`), and a pong read on its own between frames is
recognised from its bytes (`is_empty_pong`, `between_frames`) without a trip
through websockets' frame parser.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol as WsProtocol
from websockets.protocol import State as WsState
from websockets.streams import StreamReader

from hub.server.beats import next_beat

__all__ = ["PING_FRAME", "SLOTS", "Beating", "HeartbeatWheel", "between_frames", "is_empty_pong"]

log = logging.getLogger("vigie.heartbeat")

# 100 buckets: a tick every 0.25 s at the default 25 s period, and 100 pings
# a tick for 10,000 sessions. Each tick wakes an otherwise idle process, which
# on the VMs measured here costs more than its pings (34 to 196 µs of CPU:
# docs/performance.md, eighth step), so fewer ticks are cheaper: at rest with
# 10,000 sessions (and uvicorn at one tick a second, hub.server.uvserver), 250
# buckets took 1.23 % of a core, 100 took 1.01 %, 25 (a tick a second, 400
# pings) 1.02 %. Each ping is a write system call (~13 µs here, on loopback it
# also runs the receiver's TCP): 100 pings put about 1.3 ms in the latency tail
# of whatever waits behind a tick, where 25 buckets' 400 would put 5 ms; 50
# buckets once measured 3 ms (12 ms under load) on another VM.
SLOTS = 100

# A server frame is unmasked (RFC 6455 section 5.1) and the ping needs no
# payload (section 5.5.2: any pong answers it), so every ping is these bytes.
PING_FRAME = Frame(Opcode.PING, b"").serialize(mask=False)
# What a client answers it with (section 5.5.3, echoed empty payload): FIN and
# PONG, then the mask bit with length 0, then the 4-byte masking key.
_PONG_HEAD = bytes([0x80 | Opcode.PONG, 0x80])
_PONG_LEN = len(_PONG_HEAD) + 4
_WAITING_FOR_A_FRAME = StreamReader.at_eof.__code__


def between_frames(conn: WsProtocol) -> bool:
    """True when `conn`'s parser holds no byte and waits for the start of a frame.

    websockets' parser is a chain of generators; between two frames of an
    open connection its innermost one is the reader's `at_eof`, while in the
    middle of a frame it is a `read_exact`. Anything else (another websockets
    release, a closing connection) answers False: the caller parses as usual.
    """
    if conn.state is not WsState.OPEN or conn.reader.buffer:
        return False
    gen: object = conn.parser
    while (inner := getattr(gen, "gi_yieldfrom", None)) is not None:
        gen = inner
    return getattr(gen, "gi_code", None) is _WAITING_FOR_A_FRAME


def is_empty_pong(data: bytes) -> bool:
    """True when `data` is exactly one client pong with no payload.

    Read between frames (`between_frames`), such a pong changes nothing in
    websockets' state (it only becomes an event), so the caller may take it as
    the heartbeat's answer and skip the parser. Any other bytes, or a parser
    in the middle of a frame, go through it.
    """
    return len(data) == _PONG_LEN and data.startswith(_PONG_HEAD)


class Beating(Protocol):
    """A connection the wheel keeps alive."""

    heartbeat_slot: int

    def heartbeat(self) -> None:
        """Ping, or drop the connection when the last ping went unanswered."""


class HeartbeatWheel:
    """The process's heartbeat: one timer, SLOTS buckets of connections."""

    def __init__(self, period_s: float, slots: int = SLOTS) -> None:
        self.period_s = period_s
        self._slots: list[set[Beating]] = [set() for _ in range(slots)]
        self._hand = 0  # the bucket the next tick visits
        self._deal = 0  # the bucket the next connection joins
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return sum(len(slot) for slot in self._slots)

    def add(self, conn: Beating) -> None:
        """Keep `conn` alive from now on (first ping within one period)."""
        if self.period_s <= 0:
            return  # heartbeats off
        conn.heartbeat_slot = self._deal
        self._slots[self._deal].add(conn)
        self._deal = (self._deal + 1) % len(self._slots)
        if self._timer is None:
            self._schedule()

    def discard(self, conn: Beating) -> None:
        """Forget `conn` (it closed)."""
        slot = getattr(conn, "heartbeat_slot", -1)
        if 0 <= slot < len(self._slots):
            self._slots[slot].discard(conn)

    def stop(self) -> None:
        """Stop the timer (the app is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        # On the multiples of the tick (hub.server.beats): at the default period
        # a tick falls on every whole second, where the periodic loops wake too.
        tick = self.period_s / len(self._slots)
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(next_beat(loop.time(), tick, tick), self._turn)

    def _turn(self) -> None:
        bucket = self._slots[self._hand]
        self._hand = (self._hand + 1) % len(self._slots)
        for conn in list(bucket):
            try:
                conn.heartbeat()
            except Exception:  # one connection's failure must not stop the others' heartbeat
                log.exception("heartbeat failed")
                bucket.discard(conn)
        self._timer = None
        if any(self._slots):
            self._schedule()
