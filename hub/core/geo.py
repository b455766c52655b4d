"""Geography of a tenant: its area as H3 cells, and point → cell.

The area polygon from the config is resolved once to H3 cells at the hub
resolution (h3's polygon_to_cells: a cell is in when its centre is), so
"is this point in town?" is one set lookup. Points within half a cell of the
boundary may fall either way; the configured polygon is drawn with margin.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import h3

__all__ = ["TenantArea", "cell_of", "grid_distance", "ring_cells"]


def cell_of(lat: float, lon: float, resolution: int) -> str:
    """The H3 cell of a point."""
    return str(h3.latlng_to_cell(lat, lon, resolution))


@lru_cache(maxsize=1 << 16)
def ring_cells(cell: str, k: int) -> tuple[str, ...]:
    """The cells within k rings of `cell`, nearest first (the cell itself first).

    Cached: a town has a few thousand cells at the hub resolution, and this runs
    for every alert (grouping) and every position (coverage).
    """
    if k <= 0:
        return (cell,)
    out = [cell]
    for ring in range(1, k + 1):
        out.extend(sorted(h3.grid_ring(cell, ring)))
    return tuple(out)


def grid_distance(a: str, b: str) -> int | None:
    """H3 grid steps between two cells of the same resolution, None if undefined."""
    try:
        return int(h3.grid_distance(a, b))
    except (h3.H3BaseException, ValueError):
        return None


class TenantArea:
    """A town's area as a set of H3 cells at the hub resolution.

    The ancestors of the area's cells at every coarser resolution are kept too,
    so "does this sector cell overlap the town?" is one lookup at any resolution.
    """

    __slots__ = ("_by_res", "cells", "resolution")

    def __init__(self, resolution: int, cells: Iterable[str]) -> None:
        self.resolution = resolution
        self.cells = frozenset(cells)
        self._by_res = {
            r: frozenset(str(h3.cell_to_parent(c, r)) for c in self.cells)
            for r in range(resolution)
        }
        self._by_res[resolution] = self.cells

    @classmethod
    def from_polygon(cls, polygon: Iterable[tuple[float, float]], resolution: int) -> TenantArea:
        """Resolve a (lat, lon) polygon to cells at `resolution`."""
        shape = h3.LatLngPoly(list(polygon))
        return cls(resolution, h3.polygon_to_cells(shape, resolution))

    def contains(self, lat: float, lon: float) -> bool:
        """True when the point's cell is in the area."""
        return cell_of(lat, lon, self.resolution) in self.cells

    def contains_cell(self, cell: str) -> bool:
        """True when a cell of any resolution overlaps the area."""
        res = h3.get_resolution(cell)
        if res > self.resolution:
            return str(h3.cell_to_parent(cell, self.resolution)) in self.cells
        return cell in self._by_res[res]
