"""GeoJSON shapes of cells and areas for the web apps' maps."""

from __future__ import annotations

import h3
import pytest

from hub.core.geojson import (
    CellsError,
    TooManyCells,
    area_bounds,
    area_center,
    area_outline,
    cells_features,
    parse_cells,
)

CELL = "893963a6253ffff"
TRIANGLE = ((43.0, 3.0), (43.1, 3.0), (43.1, 3.2))


def test_parse_cells_keeps_order_and_drops_duplicates() -> None:
    other = h3.latlng_to_cell(43.15, 3.0, 7)
    assert parse_cells(f"{CELL},{other},{CELL},") == [CELL, other]


@pytest.mark.parametrize("text", ["", ",", "x", CELL.upper(), CELL[:-1], CELL * 2, "0"])
def test_parse_cells_refuses_non_canonical(text: str) -> None:
    with pytest.raises(CellsError):
        parse_cells(text)


def test_parse_cells_bounded() -> None:
    cells = ",".join(sorted(h3.grid_disk(CELL, 2)))  # 19 cells
    assert len(parse_cells(cells, max_cells=19)) == 19
    with pytest.raises(TooManyCells, match="at most 18"):
        parse_cells(cells, max_cells=18)


def test_cell_polygon_is_lon_lat_and_closed() -> None:
    feature = cells_features([CELL])["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    assert feature["properties"] == {"cell": CELL}
    assert len(ring) == 7 and ring[0] == ring[-1]
    assert all(h3.latlng_to_cell(lat, lon, 9) in h3.grid_disk(CELL, 1) for lon, lat in ring)


def test_area_outline_bounds_center() -> None:
    assert area_outline(TRIANGLE) == {
        "type": "Polygon",
        "coordinates": [[[3.0, 43.0], [3.0, 43.1], [3.2, 43.1], [3.0, 43.0]]],
    }
    assert area_bounds(TRIANGLE) == [[43.0, 3.0], [43.1, 3.2]]
    assert area_center(TRIANGLE) == [43.05, 3.1]
