"""The bounded queue between a connection's reader and the code that consumes messages.

Overflow policies (`Overflow`), both tested in tests/integration/test_clients.py:

* ``BACKPRESSURE`` (the default): when the mailbox is full the reader waits
  for room, so it stops reading the socket. Nothing is dropped here. The
  hub's bounded outbox for this session then fills, and the hub closes the
  session with 4408 (too slow); the connection reconnects and resumes from
  the last offset it queued, so a slow consumer costs reconnections, never
  messages. While the reader waits, replies to requests wait too: do not
  await a request in the loop that drains the mailbox if it can fill up.
* ``DROP_OLDEST``: when full, the oldest queued message is discarded and
  counted in `Mailbox.dropped`. For consumers whose state is kept by
  listeners (which see every message before it is queued) and who read the
  mailbox only as a feed, or not at all.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import StrEnum

from clients.codec import Message

__all__ = ["Mailbox", "Overflow"]


class Overflow(StrEnum):
    """What a full mailbox does with one more message."""

    BACKPRESSURE = "backpressure"
    DROP_OLDEST = "drop_oldest"


class Mailbox:
    """A FIFO of messages bounded in count, with a named overflow policy."""

    def __init__(self, maxsize: int, overflow: Overflow = Overflow.BACKPRESSURE) -> None:
        if maxsize < 1:
            raise ValueError("a mailbox holds at least one message")
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self._items: deque[Message] = deque()
        self._closed = False
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once `close` was called (queued messages can still be read)."""
        return self._closed

    async def put(self, message: Message) -> None:
        """Queue a message under the overflow policy; dropped silently once closed."""
        while (
            self.overflow is Overflow.BACKPRESSURE
            and len(self._items) >= self.maxsize
            and not self._closed
        ):
            self._not_full.clear()
            await self._not_full.wait()
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(message)
        self._not_empty.set()

    async def get(self) -> Message | None:
        """The oldest message; None once the mailbox is closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._not_empty.clear()
            await self._not_empty.wait()
        message = self._items.popleft()
        self._not_full.set()
        return message

    def close(self) -> None:
        """Refuse new messages and wake every waiter; queued ones stay readable."""
        self._closed = True
        self._not_empty.set()
        self._not_full.set()
