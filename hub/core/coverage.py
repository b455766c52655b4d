"""Which patrol units cover which cells: pure data structures.

A unit covers its sector cells (any resolution <= the hub's, kept compact) plus
`cover_k` rings around the cell of its last position. An incident's cell is
matched by looking up its ancestor at every resolution in use, instead of
uncompacting large sectors (a res-5 sector would be ~2,400 res-9 cells).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

import h3

from hub.core.geo import ring_cells

__all__ = ["CoverageIndex", "cells_overlap", "unit_coverage"]

K = TypeVar("K", bound=Hashable)


def unit_coverage(sector: Iterable[str], position_cell: str | None, cover_k: int) -> frozenset[str]:
    """A unit's covered cells: its sector plus `cover_k` rings around its position."""
    cells = set(sector)
    if position_cell is not None:
        cells.update(ring_cells(position_cell, cover_k))
    return frozenset(cells)


class CoverageIndex(Generic[K]):
    """An index cell → keys (sessions, unit ids), matched through H3 ancestors."""

    __slots__ = ("_by_cell", "_cells_of", "_resolutions")

    def __init__(self) -> None:
        self._by_cell: dict[str, set[K]] = {}
        self._cells_of: dict[K, frozenset[str]] = {}
        self._resolutions: Counter[int] = Counter()

    def assign(self, key: K, cells: Iterable[str]) -> None:
        """Replace the cells `key` covers."""
        self.remove(key)
        frozen = frozenset(cells)
        self._cells_of[key] = frozen
        for cell in frozen:
            self._by_cell.setdefault(cell, set()).add(key)
            self._resolutions[h3.get_resolution(cell)] += 1

    def remove(self, key: K) -> None:
        """Forget `key` (no error if unknown)."""
        for cell in self._cells_of.pop(key, frozenset()):
            keys = self._by_cell[cell]
            keys.discard(key)
            if not keys:
                del self._by_cell[cell]
            res = h3.get_resolution(cell)
            self._resolutions[res] -= 1
            if self._resolutions[res] <= 0:
                del self._resolutions[res]

    def cells_of(self, key: K) -> frozenset[str]:
        """The cells `key` covers."""
        return self._cells_of.get(key, frozenset())

    def covers(self, key: K, cell: str) -> bool:
        """True when `key` covers `cell` (directly or through an ancestor)."""
        mine = self._cells_of.get(key)
        if not mine:
            return False
        return any(a in mine for a in _ancestors(cell, self._resolutions))

    def lookup(self, cell: str) -> set[K]:
        """Every key covering `cell`."""
        found: set[K] = set()
        for ancestor in _ancestors(cell, self._resolutions):
            keys = self._by_cell.get(ancestor)
            if keys:
                found |= keys
        return found

    def __len__(self) -> int:
        return len(self._cells_of)

    def __contains__(self, key: object) -> bool:
        return key in self._cells_of


def _ancestors(cell: str, resolutions: Iterable[int]) -> list[str]:
    res = h3.get_resolution(cell)
    return [cell if r == res else str(h3.cell_to_parent(cell, r)) for r in resolutions if r <= res]


def cells_overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when some cell of `a` and some cell of `b` overlap (one contains the other)."""
    b_cells = list(b)
    for x in a:
        rx = h3.get_resolution(x)
        for y in b_cells:
            r = min(rx, h3.get_resolution(y))
            px = x if rx == r else h3.cell_to_parent(x, r)
            py = y if h3.get_resolution(y) == r else h3.cell_to_parent(y, r)
            if px == py:
                return True
    return False
