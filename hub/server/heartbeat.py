"""One heartbeat wheel for every WebSocket connection of a process.

A timer per connection (uvicorn arms a ping timer and a pong timer for each)
costs 10,000 timer handles and wakes the loop 10,000 times per period, in
bursts when sessions connected together. Here one timer turns a wheel of
SLOTS buckets, one bucket per tick of `period_s / SLOTS`: each connection sits
in one bucket (dealt round robin, so a burst of connections is spread over
the period) and is visited once a period. A visit pings it, unless the ping
of the previous visit is still unanswered: then it has been silent for a whole
period and is dropped (1011), as uvicorn does with ping timeout = interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

__all__ = ["SLOTS", "Beating", "HeartbeatWheel"]

log = logging.getLogger("vigie.heartbeat")

SLOTS = 50


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
        tick = self.period_s / len(self._slots)
        self._timer = asyncio.get_running_loop().call_later(tick, self._turn)

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
