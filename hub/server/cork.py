"""The frames of one loop turn, written with one system call per connection.

A write to a socket is a system call, and on loopback it also runs the
receiver's TCP stack: 57 % of the hub's time in the fan-out benchmark goes to
`transport.write`, one per frame and recipient. When a session gets several
frames in one turn (a resume's replay, a snapshot, the entries of one read of
the event stream when the hub catches up after a stall), they are held back
("corked", as TCP_CORK does for a socket) and written together (`writelines`:
one `writev`): one system call instead of one each. A turn that gives a
session one frame costs the same as before.

Rule: a frame is never held past the end of the work that produced it. The
fan-out flushes after each batch it reads (`Node._follow_once`), a session's
opening after its welcome and replay (`HubWebSocketProtocol._open`), a
session's reply after each message (`HubWebSocketProtocol._one`); anything else held in
a turn (a timer's push, a command's pokes to other sessions) is written by the
callback `hold` schedules, on the loop's next pass. A connection that holds
`MAX_HELD_BYTES` writes at once, so the transport's high-water mark, and with
it the bounded outbox, sees the same bytes as without corking.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["MAX_HELD_BYTES", "Cork", "Corked"]

# As much as uvloop's (and asyncio's) default high-water mark of a transport's
# write buffer: holding more would hide a slow reader from pause_writing.
MAX_HELD_BYTES = 64 * 1024


class Corked(Protocol):
    """A connection that holds frames until `uncork`."""

    def uncork(self) -> None:
        """Write the frames held (one system call), if any."""


class Cork:
    """The connections holding frames in this turn; `flush` writes them all."""

    __slots__ = ("_held", "_scheduled")

    def __init__(self) -> None:
        self._held: list[Corked] = []
        self._scheduled = False

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, conn: Corked) -> None:
        """`conn` holds its first frame of this turn: written by the next flush."""
        self._held.append(conn)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_flush)

    def flush(self) -> None:
        """Write every frame held, one `uncork` per connection."""
        while self._held:  # an uncork's write may call back into code that holds again
            held, self._held = self._held, []
            for conn in held:
                conn.uncork()

    def _scheduled_flush(self) -> None:
        self._scheduled = False
        self.flush()
