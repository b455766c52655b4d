"""Stream offsets: Redis stream ids ``<ms>-<seq>``, compared numerically."""

from __future__ import annotations

__all__ = ["ZERO", "is_offset", "offset_key"]

ZERO = (0, 0)


def offset_key(offset: str) -> tuple[int, int]:
    """Sortable form of an offset; raises ValueError if malformed."""
    ms, _, seq = offset.partition("-")
    key = (int(ms), int(seq or 0))
    if key[0] < 0 or key[1] < 0:
        raise ValueError(f"negative offset {offset!r}")
    return key


def is_offset(offset: str) -> bool:
    """True when `offset` is a well-formed stream id."""
    try:
        offset_key(offset)
    except ValueError:
        return False
    return True
