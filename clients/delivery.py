"""The inbound side of a connection: one ordered, duplicate-free flow to consumers.

Rule: every pushed message passes `Delivery.deliver`, in arrival order:

1. a message carrying `stream` and `offset` at or below the last offset seen
   on its stream is a duplicate (a resume overlapping what we had) and is dropped;
2. a `reset` forgets its stream's offset; the `snapshot` that follows sets it
   and is always delivered: consumers rebuild that stream's state from it;
3. listeners see the message, then it is queued in the bounded mailbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from clients.codec import Message
from clients.mailbox import Mailbox, Overflow
from clients.offsets import OffsetTracker

__all__ = ["Delivery", "Listener"]

log = logging.getLogger("vigie.client")

Listener = Callable[[Message], object]  # the result is ignored


class Delivery:
    """Offsets, listeners and the mailbox of one connection.

    Attributes:
        offsets: The last offset processed per stream (what `hello.resume` sends).
        mailbox: The bounded queue consumers read.
        duplicates: Messages dropped because their offset was already seen.
        snapshot_seen: Set once a snapshot was delivered.
    """

    def __init__(
        self, resume: Mapping[str, str] | None, queue_size: int, overflow: Overflow
    ) -> None:
        self.offsets = OffsetTracker(resume)
        self.mailbox = Mailbox(queue_size, overflow)
        self.duplicates = 0
        self.snapshot_seen = asyncio.Event()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(message)` for every delivered message, before it is queued."""
        self._listeners.append(listener)

    async def deliver(self, message: Message) -> None:
        """Deliver one message under the rules above."""
        if not self._admit(message):
            self.duplicates += 1
            return
        for listener in self._listeners:
            try:
                listener(message)
            except Exception:  # a consumer's bug must not stop the connection
                log.exception("listener %r failed on %s", listener, message["type"])
        await self.mailbox.put(message)

    def _admit(self, message: Message) -> bool:
        stream, offset = message.get("stream"), message.get("offset")
        if message["type"] == "reset" and isinstance(stream, str):
            self.offsets.forget(stream)
        elif isinstance(stream, str) and isinstance(offset, str):
            if message["type"] == "snapshot":
                self.offsets.force(stream, offset)  # state as of this offset
                self.snapshot_seen.set()
            else:
                return self.offsets.accept(stream, offset)
        return True
