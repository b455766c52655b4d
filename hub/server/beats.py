"""The process's background timers wake together, on the beats of the loop's clock.

At rest a hub wakes for its heartbeat wheel (a tick every 0.25 s at the
default period), uvicorn's tick (1 s), the deadline poll (1 s), the canary
(2 s) and the slower jobs. Each wakeup of an otherwise idle process costs
more than the work it does on the VMs measured here (34 to 196 µs of CPU,
and code runs about twice as slow right after one: docs/performance.md), so
timers that are free to move a little are put on a common grid instead of
each keeping its own phase: the kernel's `round_jiffies` and timer slack do
the same for the same reason. The periodic loops sleep to a whole second of
the loop's clock (`sleep_to_beat`), and the wheel ticks on multiples of its
tick, which divides a second at the default period: every second the loops
and one tick run in one wakeup.

A beat never makes a wait longer than asked by more than the timer's
resolution (it rounds the deadline down onto the grid): a loop that must look
again within a second still does. Several processes of one machine share the
clock (CLOCK_MONOTONIC), so their loops meet on the same beats; the jobs that
must run once per period take a lock in Redis (hub.server.timers), which is
what makes that safe.
"""

from __future__ import annotations

import asyncio
import math

__all__ = ["BEAT_S", "next_beat", "sleep_to_beat"]

BEAT_S = 1.0  # the grid of the periodic loops; a multiple of the wheel's tick at 25 s
# A timer may fire this much before its time (libuv counts milliseconds) or
# after it; a deadline this close to a beat is that beat, not the one before.
RESOLUTION_S = 0.001


def next_beat(now: float, delay_s: float, beat_s: float = BEAT_S) -> float:
    """The last multiple of `beat_s` not later than `now + delay_s` (within the
    timer's resolution), or `now + delay_s` itself when no multiple lies ahead of `now`.

    So a loop that asks for `delay_s` wakes on the grid, never later than it
    asked, and once on the grid stays there: from a beat, the next one is
    exactly `delay_s` on when `delay_s` is a multiple of `beat_s`.
    """
    on_grid = math.floor((now + delay_s + RESOLUTION_S) / beat_s) * beat_s
    return on_grid if on_grid > now + RESOLUTION_S else now + delay_s


async def sleep_to_beat(delay_s: float, beat_s: float = BEAT_S) -> None:
    """Sleep at most `delay_s`, until a beat (`next_beat`)."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    # asyncio.sleep reads the clock again: microseconds off the beat, under the
    # timer's millisecond, so the loops still fire in the same turn.
    await asyncio.sleep(next_beat(now, delay_s, beat_s) - now)
