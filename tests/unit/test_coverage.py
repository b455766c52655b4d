"""Which units cover which cells: CoverageIndex and unit_coverage."""

from __future__ import annotations

import h3
import pytest

from hub.core.coverage import CoverageIndex, cells_overlap, unit_coverage
from hub.core.geo import cell_of, ring_cells

RES = 9
CENTRE = cell_of(43.1839, 3.0042, RES)
PLAGE = cell_of(43.16, 3.16, RES)
PARIS = cell_of(48.8566, 2.3522, RES)
CENTRE7 = str(h3.cell_to_parent(CENTRE, 7))
CENTRE5 = str(h3.cell_to_parent(CENTRE, 5))
PLAGE7 = str(h3.cell_to_parent(PLAGE, 7))


def parent(cell: str, res: int) -> str:
    return str(h3.cell_to_parent(cell, res))


def children(cell: str, res: int) -> list[str]:
    return sorted(str(c) for c in h3.cell_to_children(cell, res))


# -- unit_coverage --------------------------------------------------------------------


def test_sector_only_without_a_position() -> None:
    assert unit_coverage([CENTRE7], None, 1) == {CENTRE7}


@pytest.mark.parametrize("k", [0, 1, 2])
def test_sector_plus_rings_around_the_position(k: int) -> None:
    covered = unit_coverage([CENTRE7], PLAGE, k)
    assert covered == {CENTRE7, *ring_cells(PLAGE, k)}
    assert len(covered) == 1 + 1 + 3 * k * (k + 1)


def test_no_sector_and_a_position() -> None:
    assert unit_coverage([], CENTRE, 1) == frozenset(h3.grid_disk(CENTRE, 1))


def test_position_inside_the_sector_does_not_duplicate() -> None:
    assert unit_coverage([CENTRE], CENTRE, 0) == {CENTRE}


# -- CoverageIndex ------------------------------------------------------------------


@pytest.fixture
def index() -> CoverageIndex[str]:
    idx: CoverageIndex[str] = CoverageIndex()
    idx.assign("centre-7", [CENTRE7])
    idx.assign("centre-5", [CENTRE5])
    idx.assign("centre-9", [CENTRE])
    idx.assign("plage", [PLAGE7, PLAGE])
    return idx


def test_lookup_through_ancestors_of_mixed_resolutions(index: CoverageIndex[str]) -> None:
    assert index.lookup(CENTRE) == {"centre-5", "centre-7", "centre-9"}
    assert parent(PLAGE, 5) != CENTRE5  # the beach is in the next res-5 cell
    assert index.lookup(PLAGE) == {"plage"}


def test_lookup_of_a_sibling_cell(index: CoverageIndex[str]) -> None:
    sibling = next(c for c in children(CENTRE7, RES) if c != CENTRE)
    assert index.lookup(sibling) == {"centre-5", "centre-7"}


def test_lookup_elsewhere_is_empty(index: CoverageIndex[str]) -> None:
    assert index.lookup(PARIS) == set()


def test_lookup_of_a_finer_cell(index: CoverageIndex[str]) -> None:
    fine = str(h3.cell_to_center_child(CENTRE, 12))
    assert index.lookup(fine) == {"centre-5", "centre-7", "centre-9"}


def test_a_finer_sector_does_not_cover_its_coarser_parent(index: CoverageIndex[str]) -> None:
    assert index.lookup(CENTRE7) == {"centre-5", "centre-7"}


def test_covers(index: CoverageIndex[str]) -> None:
    assert index.covers("centre-7", CENTRE)
    assert index.covers("centre-5", CENTRE)
    assert index.covers("centre-9", CENTRE)
    assert index.covers("plage", PLAGE)
    assert not index.covers("centre-9", PLAGE)
    assert not index.covers("centre-7", PARIS)
    assert not index.covers("nobody", CENTRE)


def test_covers_and_lookup_agree(index: CoverageIndex[str]) -> None:
    cells = [CENTRE, PLAGE, PARIS, *children(CENTRE7, 8), *ring_cells(PLAGE, 2)]
    for cell in cells:
        found = index.lookup(cell)
        for key in ("centre-7", "centre-5", "centre-9", "plage"):
            assert index.covers(key, cell) == (key in found)


def test_cells_of_and_len(index: CoverageIndex[str]) -> None:
    assert index.cells_of("plage") == {PLAGE7, PLAGE}
    assert index.cells_of("nobody") == frozenset()
    assert len(index) == 4


def test_assign_replaces_coverage(index: CoverageIndex[str]) -> None:
    index.assign("centre-7", [PLAGE7])
    assert index.cells_of("centre-7") == {PLAGE7}
    assert "centre-7" not in index.lookup(CENTRE)
    assert "centre-7" in index.lookup(PLAGE)
    assert len(index) == 4


def test_remove(index: CoverageIndex[str]) -> None:
    index.remove("centre-5")
    index.remove("centre-5")  # twice is fine
    index.remove("never-there")
    assert index.lookup(CENTRE) == {"centre-7", "centre-9"}
    assert not index.covers("centre-5", CENTRE)
    assert len(index) == 3


def test_shared_cells_survive_one_owner_leaving() -> None:
    idx: CoverageIndex[int] = CoverageIndex()
    idx.assign(1, [CENTRE7])
    idx.assign(2, [CENTRE7, PLAGE])
    idx.remove(1)
    assert idx.lookup(CENTRE) == {2}
    idx.assign(2, [])
    assert idx.lookup(CENTRE) == set()
    assert idx.lookup(PLAGE) == set()
    assert not idx.covers(2, CENTRE)


def test_resolutions_are_forgotten_with_their_last_cell() -> None:
    idx: CoverageIndex[str] = CoverageIndex()
    idx.assign("a", [CENTRE5])
    idx.assign("b", [CENTRE])
    idx.remove("a")
    idx.assign("a", [CENTRE7])
    assert idx.lookup(CENTRE) == {"a", "b"}
    idx.assign("a", [CENTRE5, CENTRE5])
    idx.remove("b")
    assert idx.lookup(CENTRE) == {"a"}
    idx.remove("a")
    assert idx.lookup(CENTRE) == set()
    assert len(idx) == 0


def test_churn_keeps_lookup_consistent() -> None:
    idx: CoverageIndex[str] = CoverageIndex()
    sectors = [CENTRE5, CENTRE7, CENTRE, PLAGE7, PLAGE, *children(CENTRE7, 8)[:3]]
    for round_ in range(20):
        for unit in range(5):
            idx.assign(f"u{unit}", sectors[(unit + round_) % len(sectors) :][:2])
        idx.remove(f"u{round_ % 5}")
    for cell in (CENTRE, PLAGE, *children(CENTRE7, 9)[:20]):
        expected = {
            key
            for key in (f"u{i}" for i in range(5))
            if any(parent(cell, h3.get_resolution(c)) == c for c in idx.cells_of(key))
        }
        assert idx.lookup(cell) == expected


def test_unit_coverage_in_the_index() -> None:
    idx: CoverageIndex[str] = CoverageIndex()
    idx.assign("u1", unit_coverage([PLAGE7], CENTRE, 1))
    for cell in ring_cells(CENTRE, 1):
        assert idx.lookup(cell) == {"u1"}
    assert idx.lookup(ring_cells(CENTRE, 2)[-1]) == set()  # two rings out: not covered
    assert idx.lookup(PLAGE) == {"u1"}


# -- cells_overlap ------------------------------------------------------------------


def test_cells_overlap() -> None:
    assert cells_overlap([CENTRE], [CENTRE])
    assert cells_overlap([CENTRE7], [CENTRE])
    assert cells_overlap([CENTRE], [CENTRE5])
    assert cells_overlap([PARIS, CENTRE], [PLAGE, CENTRE7])
    assert not cells_overlap([CENTRE], [PLAGE])
    assert not cells_overlap([CENTRE7], [PLAGE7])
    assert not cells_overlap([], [CENTRE])
    assert not cells_overlap([CENTRE], [])
