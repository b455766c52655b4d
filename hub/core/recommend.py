"""Which units to send: a pure ranking with the reason for each.

Ranking: available and online units only; those whose coverage includes the
incident's cell first; then fewest H3 grid steps between the unit's last
position and the incident (unknown distance last); then id, for a stable order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import h3

from hub.core.coverage import unit_coverage
from hub.core.geo import grid_distance

__all__ = ["Recommendation", "UnitInfo", "rank_units"]

FAR = 10**6


@dataclass(frozen=True, slots=True)
class UnitInfo:
    """What the ranking needs to know of a unit."""

    id: str
    status: str
    online: bool
    cell: str | None
    sector: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One ranked unit."""

    unit: str
    grid_distance: int | None
    covering: bool
    reason: str

    def to_wire(self) -> dict[str, object]:
        """The protocol's `{"unit", "grid_distance", "reason"}` entry."""
        return {"unit": self.unit, "grid_distance": self.grid_distance, "reason": self.reason}


@lru_cache(maxsize=4096)
def _coverage(
    sector: tuple[str, ...], cell: str | None, cover_k: int
) -> tuple[frozenset[str], tuple[int, ...]]:
    """A unit's covered cells and their resolutions, cached: units move cell by cell."""
    cells = unit_coverage(sector, cell, cover_k)
    return cells, tuple(sorted({h3.get_resolution(c) for c in cells}))


def _covers(unit: UnitInfo, cell: str, cover_k: int) -> bool:
    cells, resolutions = _coverage(unit.sector, unit.cell, cover_k)
    res = h3.get_resolution(cell)
    return any(
        (cell if r == res else h3.cell_to_parent(cell, r)) in cells for r in resolutions if r <= res
    )


def rank_units(
    incident_cell: str, units: Iterable[UnitInfo], *, cover_k: int = 1, exclude: Iterable[str] = ()
) -> list[Recommendation]:
    """Rank the units able to take an incident at `incident_cell`, best first."""
    excluded = set(exclude)
    ranked = []
    for unit in units:
        if unit.id in excluded or not unit.online or unit.status != "available":
            continue
        distance = grid_distance(unit.cell, incident_cell) if unit.cell else None
        covering = _covers(unit, incident_cell, cover_k)
        parts = ["covering" if covering else "nearest", "available"]
        if distance is not None:
            parts.append(f"{distance} step{'' if distance == 1 else 's'} away")
        ranked.append(Recommendation(unit.id, distance, covering, ", ".join(parts)))
    ranked.sort(key=_rank_key)
    return ranked


def _rank_key(r: Recommendation) -> tuple[bool, int, str]:
    return (not r.covering, FAR if r.grid_distance is None else r.grid_distance, r.unit)
