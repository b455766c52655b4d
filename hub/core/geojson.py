"""Shapes for the web apps' maps: H3 cells and a town's area as GeoJSON.

The browser draws what the hub computes (h3-py), so it needs no H3 library.
GeoJSON positions are [lon, lat] (RFC 7946 §3.1.1) with rings closed; the
config and the protocol say (lat, lon), so the swap happens here, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import h3

__all__ = [
    "MAX_CELLS",
    "CellsError",
    "TooManyCells",
    "area_bounds",
    "area_center",
    "area_outline",
    "cells_features",
    "parse_cells",
]

MAX_CELLS = 500  # as a sector's cover: the most a notice or a view asks for at once
DIGITS = 6  # ~0.1 m: more precision only makes the JSON longer

LatLon = tuple[float, float]


class CellsError(ValueError):
    """A `cells` list is empty or holds a string that is not a canonical H3 cell."""


class TooManyCells(CellsError):
    """A `cells` list is longer than allowed."""


def parse_cells(text: str, max_cells: int = MAX_CELLS) -> list[str]:
    """Split a comma-separated list of canonical H3 cell strings, duplicates dropped."""
    items = [item for item in text.split(",") if item]
    if not items:
        raise CellsError("cells: give at least one H3 cell")
    if len(items) > max_cells:
        raise TooManyCells(f"cells: at most {max_cells} cells, got {len(items)}")
    for item in items:
        if not _canonical(item):
            raise CellsError(f"cells: {item[:20]!r} is not an H3 cell (lowercase hex)")
    return list(dict.fromkeys(items))


def _canonical(item: str) -> bool:
    if len(item) > 16 or not h3.is_valid_cell(item):
        return False
    return str(h3.int_to_str(h3.str_to_int(item))) == item


def _position(lat: float, lon: float) -> list[float]:
    return [round(lon, DIGITS), round(lat, DIGITS)]


def _ring(points: Sequence[LatLon]) -> list[list[float]]:
    ring = [_position(lat, lon) for lat, lon in points]
    return [*ring, ring[0]]


def cells_features(cells: Iterable[str]) -> dict[str, Any]:
    """A FeatureCollection: one Polygon per cell, `properties.cell` naming it."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [_ring(h3.cell_to_boundary(c))]},
                "properties": {"cell": c},
            }
            for c in cells
        ],
    }


def area_outline(area: Sequence[LatLon]) -> dict[str, Any]:
    """The configured (lat, lon) polygon of a town as a GeoJSON Polygon."""
    return {"type": "Polygon", "coordinates": [_ring(area)]}


def area_bounds(area: Sequence[LatLon]) -> list[list[float]]:
    """[[south, west], [north, east]] of the polygon (Leaflet's LatLngBounds order)."""
    lats, lons = [p[0] for p in area], [p[1] for p in area]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def area_center(area: Sequence[LatLon]) -> list[float]:
    """[lat, lon] of the middle of the polygon's bounds."""
    (south, west), (north, east) = area_bounds(area)
    return [round((south + north) / 2, DIGITS), round((west + east) / 2, DIGITS)]
