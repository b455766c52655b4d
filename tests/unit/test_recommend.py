"""Unit ranking for dispatch: covering first, then nearest, available and online only."""

from __future__ import annotations

import h3

from hub.core.recommend import UnitInfo, rank_units

INCIDENT = h3.latlng_to_cell(43.1839, 3.0042, 9)
SECTOR = h3.cell_to_parent(INCIDENT, 7)


def unit(
    uid: str,
    *,
    status: str = "available",
    online: bool = True,
    steps: int | None = None,
    sector: tuple[str, ...] = (),
) -> UnitInfo:
    cell = None
    if steps is not None:
        cell = sorted(h3.grid_ring(INCIDENT, steps))[0] if steps else INCIDENT
    return UnitInfo(uid, status, online, cell, sector)  # fmt: skip


def test_covering_units_rank_before_nearer_ones() -> None:
    ranked = rank_units(INCIDENT, [unit("near", steps=3), unit("sector", sector=(SECTOR,))])
    assert [r.unit for r in ranked] == ["sector", "near"]
    assert ranked[0].reason == "covering, available"
    assert ranked[1].reason == "nearest, available, 3 steps away"
    assert ranked[1].grid_distance == 3


def test_position_rings_count_as_covering() -> None:
    ranked = rank_units(INCIDENT, [unit("ring", steps=1), unit("far", steps=4)], cover_k=1)
    assert [(r.unit, r.covering) for r in ranked] == [("ring", True), ("far", False)]


def test_only_available_online_units_not_excluded() -> None:
    units = [
        unit("busy", status="busy", steps=0),
        unit("offline", online=False, steps=0),
        unit("declined", steps=0),
        unit("ok", steps=2),
    ]
    ranked = rank_units(INCIDENT, units, exclude=("declined",))
    assert [r.unit for r in ranked] == ["ok"]


def test_ties_break_by_distance_then_id_and_unknown_distance_last() -> None:
    units = [unit("b", steps=2), unit("a", steps=2), unit("nowhere"), unit("c", steps=1)]
    ranked = rank_units(INCIDENT, units, cover_k=0)
    assert [r.unit for r in ranked] == ["c", "a", "b", "nowhere"]
    assert ranked[-1].grid_distance is None
    assert ranked[0].to_wire() == {"unit": "c", "grid_distance": 1,
                                   "reason": "nearest, available, 1 step away"}  # fmt: skip
