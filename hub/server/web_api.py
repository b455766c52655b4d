"""What the web apps ask over HTTP: their tenant, and map shapes of H3 cells.

Every call takes `Authorization: Bearer <token>` of any role; the tenant is the
token's. 401 without a valid token, 400 with a JSON error for bad input.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.core.errors import ErrorCode
from hub.core.geo import cell_of
from hub.core.geojson import (
    CellsError,
    TooManyCells,
    area_bounds,
    area_center,
    area_outline,
    cells_features,
    parse_cells,
)
from hub.server.bearer import Refused, caller
from hub.server.node import TenantRuntime

__all__ = ["cells_at", "cells_geometry", "tenant_info"]

QUERY_MAX = 9000  # 500 cells of 15 characters and their commas


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def tenant_view(rt: TenantRuntime) -> dict[str, Any]:
    """The tenant as the web apps see it (config only: no Redis)."""
    t = rt.config
    return {
        "id": t.id,
        "name": t.name,
        "timezone": t.timezone,
        "resolution": rt.area.resolution,
        "center": area_center(t.area),
        "bounds": area_bounds(t.area),
        "outline": area_outline(t.area),
        "categories": [
            {"id": c.id, "priority": c.priority, "label": {"fr": c.label_fr, "en": c.label_en}}
            for c in sorted(t.categories.values(), key=lambda c: (c.priority, c.id))
        ],
        "tiles": asdict(t.tiles) if t.tiles is not None else None,
        "emergency": t.emergency,
        # The named patrol sectors: the console names a unit's coverage by them.
        "sectors": [{"name": s.name, "cell": s.cell} for _, s in sorted(t.sectors.items())],
    }


async def tenant_info(request: Request) -> Response:
    """`GET /api/v1/tenant`: name, area, categories, map settings of the token's tenant."""
    try:
        rt = (await caller(request))[1]
    except Refused as refused:
        return refused.response()
    return JSONResponse(tenant_view(rt))


async def cells_geometry(request: Request) -> Response:
    """`GET /api/v1/cells?cells=a,b,…`: a GeoJSON FeatureCollection of the cells."""
    try:
        await caller(request)
    except Refused as refused:
        return refused.response()
    text = request.query_params.get("cells", "")
    if len(text) > QUERY_MAX:
        return _error(400, ErrorCode.TOO_LARGE, f"cells: the list is over {QUERY_MAX} characters")
    try:
        cells = parse_cells(text)
    except TooManyCells as exc:
        return _error(400, ErrorCode.TOO_LARGE, str(exc))
    except CellsError as exc:
        return _error(400, ErrorCode.BAD_REQUEST, str(exc))
    return JSONResponse(cells_features(cells))


def _coordinate(request: Request, name: str, limit: float) -> float:
    try:
        value = float(request.query_params[name])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{name}: a number is required") from exc
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(f"{name}: must be within ±{limit:g}")
    return value


async def cells_at(request: Request) -> Response:
    """`GET /api/v1/cells/at?lat=&lon=`: the cell at the hub resolution, if in town."""
    try:
        rt = (await caller(request))[1]
    except Refused as refused:
        return refused.response()
    try:
        lat, lon = _coordinate(request, "lat", 90), _coordinate(request, "lon", 180)
    except ValueError as exc:
        return _error(400, ErrorCode.BAD_REQUEST, str(exc))
    cell = cell_of(lat, lon, rt.area.resolution)
    if cell not in rt.area.cells:
        return _error(400, ErrorCode.OUT_OF_AREA, f"this point is outside {rt.config.name}")
    return JSONResponse({"cell": cell})
