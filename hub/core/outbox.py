"""A session's bounded outbox: what to do when a client reads slower than we write.

Policy (named, and tested in tests/unit/test_outbox.py):

* ``durable`` frames (incidents, assignments, alert statuses, replies) are never
  dropped. When one does not fit, the outbox reports ``OVERFLOW`` and the
  session is closed with 4408 (too slow); the client resumes from its offsets,
  so nothing is lost — it is replayed from Redis, not held in our memory.
* ``coalescible`` frames (unit positions) carry a key: a newer frame replaces an
  older queued one with the same key in place, so a lagging console sees the
  latest position, not a backlog.
* other non-durable frames are ``SHED`` once the outbox is half full.

Frames are opaque (str for text, bytes for binary): the outbox never encodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Outbox", "PushResult", "QueuedFrame"]

Frame = str | bytes


class PushResult(Enum):
    """What happened to a pushed frame."""

    QUEUED = "queued"
    COALESCED = "coalesced"  # replaced an older frame with the same key
    SHED = "shed"  # a non-durable frame dropped because the outbox is half full
    OVERFLOW = "overflow"  # a durable frame did not fit: close the session (4408)


@dataclass(slots=True)
class QueuedFrame:
    """One frame waiting to be written."""

    frame: Frame
    key: Hashable | None = None


class Outbox:
    """A FIFO of frames bounded in count and bytes."""

    __slots__ = ("_by_key", "_frames", "bytes", "max_bytes", "max_frames", "shed")

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[QueuedFrame] = deque()
        self._by_key: dict[Hashable, QueuedFrame] = {}
        self.bytes = 0
        self.shed = 0

    def __len__(self) -> int:
        return len(self._frames)

    def half_full(self) -> bool:
        """True from half capacity (frames or bytes) on: where live-only frames are shed."""
        return len(self._frames) * 2 >= self.max_frames or self.bytes * 2 >= self.max_bytes

    def push(
        self, frame: Frame, *, durable: bool = True, key: Hashable | None = None
    ) -> PushResult:
        """Queue a frame under the policy above."""
        if key is not None:
            queued = self._by_key.get(key)
            if queued is not None:
                self.bytes += len(frame) - len(queued.frame)
                queued.frame = frame
                return PushResult.COALESCED
        size = len(frame)
        fits = len(self._frames) < self.max_frames and self.bytes + size <= self.max_bytes
        if not durable and (
            not fits or len(self._frames) * 2 >= self.max_frames or self.bytes * 2 >= self.max_bytes
        ):
            self.shed += 1
            return PushResult.SHED
        if not fits:
            return PushResult.OVERFLOW
        item = QueuedFrame(frame, key)
        self._frames.append(item)
        self.bytes += size
        if key is not None:
            self._by_key[key] = item
        return PushResult.QUEUED

    def pop(self) -> Frame | None:
        """The oldest frame, or None when empty."""
        if not self._frames:
            return None
        item = self._frames.popleft()
        self.bytes -= len(item.frame)
        if item.key is not None:
            self._by_key.pop(item.key, None)
        return item.frame

    def clear(self) -> None:
        """Drop everything (the session is closing)."""
        self._frames.clear()
        self._by_key.clear()
        self.bytes = 0
