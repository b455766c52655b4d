"""Stream offsets: Redis stream ids ``<ms>-<seq>``, compared numerically."""

from __future__ import annotations

import re

__all__ = ["ZERO", "is_offset", "offset_key"]

ZERO = (0, 0)
_U64_MAX = 2**64 - 1
# What Redis accepts as a stream id: ASCII digits, 64-bit parts. int() alone would
# also take signs, spaces, underscores and non-ASCII digits, which XRANGE refuses.
_OFFSET = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)


def offset_key(offset: str) -> tuple[int, int]:
    """Sortable form of an offset; raises ValueError if malformed."""
    match = _OFFSET.fullmatch(offset)
    if match is None:
        raise ValueError(f"malformed offset {offset[:40]!r}")
    key = (int(match[1]), int(match[2] or 0))
    if key[0] > _U64_MAX or key[1] > _U64_MAX:
        raise ValueError(f"offset out of range {offset[:40]!r}")
    return key


def is_offset(offset: str) -> bool:
    """True when `offset` is a well-formed stream id."""
    try:
        offset_key(offset)
    except ValueError:
        return False
    return True
