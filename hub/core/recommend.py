"""Which units to send: a pure ranking with the reason for each.

Ranking: available and online units only; those whose coverage includes the
incident's cell first; then fewest H3 grid steps between the unit's last
position and the incident (unknown distance last); then id, for a stable order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import h3
from h3.api import basic_int as h3_int

from hub.core.coverage import unit_coverage

__all__ = ["Recommendation", "UnitInfo", "lineage", "rank_units"]

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
) -> tuple[frozenset[str], int | None]:
    """A unit's covered cells and its position as an H3 integer, cached: units move
    cell by cell. The integer spares h3 parsing the unit's cell for every distance."""
    return unit_coverage(sector, cell, cover_k), _h3_int(cell) if cell else None


def _h3_int(cell: str) -> int | None:
    try:
        return int(h3.str_to_int(cell))
    except ValueError:  # not hexadecimal: no distance, as `grid_distance` would say
        return None


def _steps(a: int, b: int) -> int | None:
    """`grid_distance` for cells already parsed to integers."""
    try:
        return int(h3_int.grid_distance(a, b))
    except (h3.H3BaseException, ValueError):
        return None


@lru_cache(maxsize=4096)
def lineage(cell: str) -> tuple[str, ...]:
    """`cell` and its ancestors at every coarser resolution, cached per incident cell.

    A unit covers `cell` exactly when one of its covered cells is in here, so each
    unit costs one C-level `isdisjoint` instead of H3 calls. A tuple, not a set: as
    fast for that, half the memory (one entry per incident cell of the town).
    """
    res = h3.get_resolution(cell)
    return (cell, *(h3.cell_to_parent(cell, r) for r in range(res)))


# (not covering, distance or FAR, unit id, position in the input, distance): the first
# four order the units as documented (the position keeps a stable sort's order for
# equal keys, and tuples never get to compare the last item); the last is what the
# Recommendation reports. Recommendations are built for the kept units only.
_Keyed = tuple[bool, int, str, int, int | None]


def rank_units(
    incident_cell: str,
    units: Iterable[UnitInfo],
    *,
    cover_k: int = 1,
    exclude: Iterable[str] = (),
    limit: int | None = None,
) -> list[Recommendation]:
    """Rank the units able to take an incident at `incident_cell`, best first.

    With `limit`, only the best `limit` (the same as the full ranking's first ones).
    """
    excluded = set(exclude)
    able = [
        (i, unit)
        for i, unit in enumerate(units)
        if unit.id not in excluded and unit.online and unit.status == "available"
    ]
    if not able:  # before touching the incident's cell, as the ranking always did
        return []
    ancestors = lineage(incident_cell)
    target = _h3_int(incident_cell)
    keyed: list[_Keyed] = []
    for i, unit in able:
        cells, position = _coverage(unit.sector, unit.cell, cover_k)
        distance = None if position is None or target is None else _steps(position, target)
        covering = not cells.isdisjoint(ancestors)
        keyed.append((not covering, FAR if distance is None else distance, unit.id, i, distance))
    best = sorted(keyed) if limit is None else heapq.nsmallest(limit, keyed)
    return [_recommendation(k) for k in best]


def _recommendation(keyed: _Keyed) -> Recommendation:
    not_covering, _, unit_id, _, distance = keyed
    parts = ["nearest" if not_covering else "covering", "available"]
    if distance is not None:
        parts.append(f"{distance} step{'' if distance == 1 else 's'} away")
    return Recommendation(unit_id, distance, not not_covering, ", ".join(parts))
