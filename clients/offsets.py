"""Per-stream offsets: what a client has processed, to resume and to drop duplicates.

Offsets are Redis stream ids ``"<ms>-<seq>"``; they compare numerically
(``"9-0" < "10-0"``, which a string comparison gets wrong). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["OffsetTracker", "offset_key"]


def offset_key(offset: str) -> tuple[int, int]:
    """The numeric, sortable form of an offset.

    Raises:
        ValueError: `offset` is not ``"<ms>-<seq>"`` (or ``"<ms>"``) with non-negative ints.
    """
    ms, _, seq = offset.partition("-")
    key = (int(ms), int(seq or 0))
    if key[0] < 0 or key[1] < 0:
        raise ValueError(f"negative offset {offset!r}")
    return key


class OffsetTracker:
    """The last offset seen on each stream ("events", "inbox", ...)."""

    __slots__ = ("_last",)

    def __init__(self, initial: Mapping[str, str] | None = None) -> None:
        self._last: dict[str, tuple[tuple[int, int], str]] = {}
        for stream, offset in (initial or {}).items():
            self.force(stream, offset)

    def accept(self, stream: str, offset: str) -> bool:
        """Record `offset` if it is new on `stream`; False for a duplicate (<= last seen).

        A malformed offset is accepted and not recorded: the message is delivered,
        and the resume position stays at the last offset we understood.
        """
        try:
            key = offset_key(offset)
        except ValueError:
            return True
        last = self._last.get(stream)
        if last is not None and key <= last[0]:
            return False
        self._last[stream] = (key, offset)
        return True

    def force(self, stream: str, offset: str) -> None:
        """Set the position of `stream`, even backwards (a snapshot's offset after a reset)."""
        try:
            self._last[stream] = (offset_key(offset), offset)
        except ValueError:
            self._last.pop(stream, None)

    def forget(self, stream: str) -> None:
        """Drop what we know of `stream` (after a `reset`, the snapshot sets it again)."""
        self._last.pop(stream, None)

    def last(self, stream: str) -> str | None:
        """The last offset processed on `stream`, None if none."""
        entry = self._last.get(stream)
        return None if entry is None else entry[1]

    def resume(self) -> dict[str, str]:
        """The `hello.resume` map: stream → last offset processed."""
        return {stream: entry[1] for stream, entry in self._last.items()}
