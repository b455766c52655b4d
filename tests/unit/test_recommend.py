"""Unit ranking for dispatch: covering first, then nearest, available and online only."""

from __future__ import annotations

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.coverage import unit_coverage
from hub.core.geo import grid_distance
from hub.core.recommend import UnitInfo, lineage, rank_units

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


# -- lineage, limit, and the ranking against the straightforward one ------------------


def test_lineage_is_the_cell_and_its_ancestors() -> None:
    expected = {INCIDENT} | {h3.cell_to_parent(INCIDENT, r) for r in range(9)}
    assert set(lineage(INCIDENT)) == expected
    assert len(lineage(INCIDENT)) == 10
    assert lineage(SECTOR)[0] == SECTOR
    assert set(lineage(SECTOR)) == {SECTOR} | {h3.cell_to_parent(SECTOR, r) for r in range(7)}


def test_a_finer_sector_cell_does_not_cover_a_coarser_incident_cell() -> None:
    finer = h3.cell_to_center_child(INCIDENT, 10)
    ranked = rank_units(INCIDENT, [unit("fine", sector=(finer,))], cover_k=0)
    assert [(r.unit, r.covering) for r in ranked] == [("fine", False)]


def test_limit_keeps_the_best_units() -> None:
    units = [unit(f"u{i}", steps=i % 4) for i in range(12)] + [unit("s", sector=(SECTOR,))]
    ranked = rank_units(INCIDENT, units, cover_k=0)
    assert rank_units(INCIDENT, units, cover_k=0, limit=5) == ranked[:5]
    assert rank_units(INCIDENT, units, cover_k=0, limit=50) == ranked
    assert rank_units(INCIDENT, units, cover_k=0, limit=0) == []


def test_no_distance_between_cells_of_different_resolutions() -> None:
    elsewhere = h3.cell_to_parent(sorted(h3.grid_ring(INCIDENT, 10))[0], 8)
    coarse = UnitInfo("coarse", "available", True, elsewhere)
    ranked = rank_units(INCIDENT, [coarse, unit("near", steps=2)], cover_k=0)
    assert [(r.unit, r.grid_distance) for r in ranked] == [("near", 2), ("coarse", None)]
    assert ranked[1].reason == "nearest, available"


def test_no_able_unit_ranks_nothing_without_reading_the_cell() -> None:
    assert rank_units("not a cell", [unit("busy", status="busy", steps=0)]) == []


def reference_ranking(
    incident_cell: str, units: list[UnitInfo], cover_k: int, exclude: tuple[str, ...]
) -> list[tuple[str, int | None, bool, str]]:
    """The ranking as first written (per-unit H3 ancestor lookups and a full sort)."""
    excluded = set(exclude)
    ranked = []
    for u in units:
        if u.id in excluded or not u.online or u.status != "available":
            continue
        distance = grid_distance(u.cell, incident_cell) if u.cell else None
        cells = unit_coverage(u.sector, u.cell, cover_k)
        res = h3.get_resolution(incident_cell)
        resolutions = sorted({h3.get_resolution(c) for c in cells})
        covering = any(
            (incident_cell if r == res else h3.cell_to_parent(incident_cell, r)) in cells
            for r in resolutions
            if r <= res
        )
        parts = ["covering" if covering else "nearest", "available"]
        if distance is not None:
            parts.append(f"{distance} step{'' if distance == 1 else 's'} away")
        ranked.append((u.id, distance, covering, ", ".join(parts)))
    ranked.sort(key=lambda r: (not r[2], 10**6 if r[1] is None else r[1], r[0]))
    return ranked


NEARBY = sorted(h3.grid_disk(INCIDENT, 4))
SECTORS = sorted(
    {h3.cell_to_parent(c, r) for c in h3.grid_disk(INCIDENT, 12) for r in (6, 7, 8)} | {INCIDENT}
)
boards = st.lists(
    st.builds(
        UnitInfo,
        id=st.sampled_from([f"u{i}" for i in range(8)]),  # duplicates: the sort must be stable
        status=st.sampled_from(["available", "available", "busy", "off_duty"]),
        online=st.booleans(),
        cell=st.none() | st.sampled_from(NEARBY),
        sector=st.lists(st.sampled_from(SECTORS), max_size=3).map(tuple),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    board=boards,
    incident=st.sampled_from([*NEARBY, h3.cell_to_parent(INCIDENT, 8)]),
    cover_k=st.integers(0, 2),
    exclude=st.lists(st.sampled_from(["u0", "u1", "u2"]), max_size=2).map(tuple),
    limit=st.none() | st.integers(0, 6),
)
def test_ranking_equals_the_reference_on_random_boards(
    board: list[UnitInfo], incident: str, cover_k: int, exclude: tuple[str, ...], limit: int | None
) -> None:
    expected = reference_ranking(incident, board, cover_k, exclude)
    if limit is not None:
        expected = expected[:limit]
    ranked = rank_units(incident, board, cover_k=cover_k, exclude=exclude, limit=limit)
    assert [(r.unit, r.grid_distance, r.covering, r.reason) for r in ranked] == expected
