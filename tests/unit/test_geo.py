"""Tenant geography: the Narbonne area as H3 cells, point → cell, rings."""

from __future__ import annotations

import h3
import pytest

from hub.config import load_config
from hub.core.geo import TenantArea, cell_of, grid_distance, ring_cells

RES = 9
CENTRE = (43.1839, 3.0042)
PLAGE = (43.16, 3.16)  # Narbonne-Plage, on the coast
PARIS = (48.8566, 2.3522)
SEA = (43.17, 3.35)  # the Gulf of Lion, far east of the beach
BEZIERS = (43.3442, 3.2158)  # the next town up the road


@pytest.fixture(scope="module")
def area() -> TenantArea:
    tenant = load_config(env={}).tenants["narbonne"]
    return TenantArea.from_polygon(tenant.area, RES)


def test_cell_of_is_the_h3_cell() -> None:
    assert cell_of(*CENTRE, RES) == h3.latlng_to_cell(*CENTRE, RES)
    assert h3.get_resolution(cell_of(*CENTRE, 7)) == 7


@pytest.mark.parametrize("point", [CENTRE, PLAGE], ids=["centre", "plage"])
def test_area_contains_the_town(area: TenantArea, point: tuple[float, float]) -> None:
    assert area.contains(*point)
    assert area.contains_cell(cell_of(*point, RES))


@pytest.mark.parametrize("point", [PARIS, SEA, BEZIERS], ids=["paris", "sea", "beziers"])
def test_area_excludes_elsewhere(area: TenantArea, point: tuple[float, float]) -> None:
    assert not area.contains(*point)
    assert not area.contains_cell(cell_of(*point, RES))


def test_area_cells_are_at_the_hub_resolution(area: TenantArea) -> None:
    assert area.resolution == RES
    assert len(area.cells) > 1000  # a commune of ~173 km², cells of ~0.1 km²
    assert {h3.get_resolution(c) for c in area.cells} == {RES}


@pytest.mark.parametrize("res", [0, 3, 5, 7, 8])
def test_coarser_cells_around_the_town_overlap_it(area: TenantArea, res: int) -> None:
    assert area.contains_cell(cell_of(*CENTRE, res))
    assert area.contains_cell(cell_of(*PLAGE, res))


@pytest.mark.parametrize("res", [3, 5, 7, 8])
def test_coarser_cells_elsewhere_do_not(area: TenantArea, res: int) -> None:
    assert not area.contains_cell(cell_of(*PARIS, res))


@pytest.mark.parametrize("res", [10, 12, 15])
def test_finer_cells_follow_their_hub_cell(area: TenantArea, res: int) -> None:
    assert area.contains_cell(cell_of(*CENTRE, res))
    assert not area.contains_cell(cell_of(*SEA, res))
    assert not area.contains_cell(cell_of(*PARIS, res))


def test_every_area_cell_and_its_ancestors_are_contained(area: TenantArea) -> None:
    for cell in list(area.cells)[:50]:
        for res in range(RES + 1):
            assert area.contains_cell(str(h3.cell_to_parent(cell, res)))


def test_area_from_cells() -> None:
    cell = cell_of(*CENTRE, RES)
    area = TenantArea(RES, [cell])
    assert area.contains(*CENTRE)
    assert area.contains_cell(str(h3.cell_to_parent(cell, 4)))
    assert area.contains_cell(str(h3.cell_to_center_child(cell, 12)))
    neighbour = next(iter(h3.grid_ring(cell, 1)))
    assert not area.contains_cell(neighbour)


# -- rings -------------------------------------------------------------------------


def test_ring_zero_is_the_cell() -> None:
    cell = cell_of(*CENTRE, RES)
    assert ring_cells(cell, 0) == (cell,)
    assert ring_cells(cell, -3) == (cell,)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rings_are_nearest_first(k: int) -> None:
    cell = cell_of(*CENTRE, RES)
    cells = ring_cells(cell, k)
    assert cells[0] == cell
    assert len(cells) == 1 + 3 * k * (k + 1) == len(set(cells))
    assert set(cells) == set(h3.grid_disk(cell, k))
    distances = [grid_distance(cell, c) for c in cells]
    assert distances == sorted(distances)
    assert distances[-1] == k


def test_ring_order_is_deterministic() -> None:
    cell = cell_of(*PLAGE, RES)
    assert ring_cells(cell, 2) == ring_cells(cell, 2)
    ring1 = ring_cells(cell, 2)[1:7]
    assert list(ring1) == sorted(ring1)


def test_grid_distance() -> None:
    cell = cell_of(*CENTRE, RES)
    neighbour = sorted(h3.grid_ring(cell, 1))[0]
    assert grid_distance(cell, cell) == 0
    assert grid_distance(cell, neighbour) == 1
    assert grid_distance(cell, str(h3.cell_to_parent(cell, 7))) is None  # mixed resolutions
