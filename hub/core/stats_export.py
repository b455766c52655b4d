"""The statistics as files for the town's own tools: CSV (a spreadsheet) and
GeoJSON (a GIS). Both are built from the same `Totals` as the JSON answer."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import h3

from hub.core.stats import SERIES, Totals, quantile, recurring

__all__ = ["CSV_COLUMNS", "hotspots_geojson", "stats_csv"]

CSV_COLUMNS = (
    "day",
    "category",
    "incidents",
    "reports",
    *(f"{s}_p50_s" for s in SERIES),
    "response_p90_s",
)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def stats_csv(t: Totals) -> str:
    """One row per day and category: volumes and median stage times (seconds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    rows = set(t.by_day_category) | set(t.reports_by_day_category)
    for day, category in sorted(rows):
        sketches: dict[str, Mapping[int, int]] = {
            s: t.stages_by.get(("day", f"{day}|{category}", s), {}) for s in SERIES
        }
        writer.writerow(
            [
                day,
                category,
                t.by_day_category[(day, category)],
                t.reports_by_day_category[(day, category)],
                *(_cell(quantile(sketches[s], 0.5)) for s in SERIES),
                _cell(quantile(sketches["response"], 0.9)),
            ]
        )
    return out.getvalue()


def _polygon(cell: str) -> list[list[list[float]]]:
    ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(cell)]
    return [[*ring, ring[0]]]  # GeoJSON: lon, lat; the ring closes on its first point


def hotspots_geojson(t: Totals, recurring_weeks: int) -> dict[str, Any]:
    """A FeatureCollection of the period's cells: incidents by category, recurring ones."""
    by_cell: dict[str, dict[str, int]] = {}
    for (area, category), n in t.by_area_category.items():
        by_cell.setdefault(area, {})[category] = n
    comes_back: dict[str, list[str]] = {}
    for row in recurring(t, recurring_weeks):
        comes_back.setdefault(row["cell"], []).append(row["category"])
    features = []
    for cell, n in t.by_area.most_common():
        if not h3.is_valid_cell(cell):
            continue
        features.append(
            {
                "type": "Feature",
                "id": cell,
                "geometry": {"type": "Polygon", "coordinates": _polygon(cell)},
                "properties": {
                    "cell": cell,
                    "incidents": n,
                    "by_category": dict(sorted(by_cell.get(cell, {}).items())),
                    "recurring": sorted(comes_back.get(cell, [])),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
