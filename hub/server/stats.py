"""`GET /api/v1/stats`: the town's statistics for consoles and the town's dashboards.

Query: `from`, `to` (local dates YYYY-MM-DD, inclusive; default the last 28 days),
`category`, `sector` (a configured sector, or `other`), `format` (`json`, `csv`,
`geojson`). `Authorization: Bearer <console token>`; the tenant is the token's.
What the figures mean: docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import h3
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.config import TenantConfig
from hub.core.stats import ALPHA, Totals, days_between, fold, summary
from hub.core.stats_export import hotspots_geojson, stats_csv
from hub.core.tokens import TokenError
from hub.server.node import Node
from hub.store.stats import read_days

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "get_stats", "sector_finder"]

DEFAULT_DAYS = 28
MAX_DAYS = 400  # the aggregates' default retention
OTHER = "other"  # the sector of an area no configured sector contains
FORMATS = ("json", "csv", "geojson")


class BadQuery(ValueError):
    """A query parameter the API refuses (400); the message names it."""


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


_FINDERS: dict[str, Callable[[str], str]] = {}


def sector_finder(tenant: TenantConfig) -> Callable[[str], str]:
    """area cell → the name of the configured sector that contains it, or `other`."""
    found = _FINDERS.get(tenant.id)
    if found is None:
        found = _FINDERS[tenant.id] = _finder(tenant)
    return found


def _finder(tenant: TenantConfig) -> Callable[[str], str]:
    sectors = [(s.name, s.cell) for s in tenant.sectors.values()]

    @lru_cache(maxsize=4096)
    def sector_of(area: str) -> str:
        if not h3.is_valid_cell(area):
            return OTHER
        res = h3.get_resolution(area)
        for name, cell in sectors:
            sres = h3.get_resolution(cell)
            inside = h3.cell_to_parent(area, sres) == cell if sres <= res else (
                h3.cell_to_parent(cell, res) == area
            )  # fmt: skip
            if inside:
                return name
        return OTHER

    return sector_of


def _day(text: str | None, name: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{name}: expected a date YYYY-MM-DD, got {text[:40]!r}") from None


def _period(request: Request, tenant: TenantConfig) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(tenant.timezone)).date()
    last = _day(request.query_params.get("to"), "to", today)
    first = _day(request.query_params.get("from"), "from", last - timedelta(DEFAULT_DAYS - 1))
    if first > last:
        raise BadQuery("from: after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadQuery(f"from, to: at most {MAX_DAYS} days")
    return first, last


def _filters(request: Request, tenant: TenantConfig) -> dict[str, str]:
    filters = {}
    category = request.query_params.get("category")
    if category is not None:
        if category not in tenant.categories:
            raise BadQuery(f"category: unknown {category[:40]!r}")
        filters["category"] = category
    sector = request.query_params.get("sector")
    if sector is not None:
        if sector not in tenant.sectors and sector != OTHER:
            raise BadQuery(f"sector: unknown {sector[:40]!r}")
        filters["sector"] = sector
    return filters


async def query(
    node: Node, tenant: TenantConfig, first: date, last: date, filters: dict[str, str]
) -> Totals:
    """Read and add up the days of the period, as `filters` keep them."""
    rt = node.tenants[tenant.id]
    sector_of = sector_finder(tenant)
    category, sector = filters.get("category"), filters.get("sector")

    def keep(cat: str, area: str) -> bool:
        return (category is None or cat == category) and (
            sector is None or sector_of(area) == sector
        )

    days = await read_days(node.store.redis, rt.keys, days_between(first, last))
    return fold(days, sector_of, keep)


async def get_stats(request: Request) -> Response:
    """The statistics of the token's town over a period, as JSON, CSV or GeoJSON."""
    node: Node = request.app.state.node
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise TokenError("no bearer token")
        claims = await request.app.state.keys.verify(token)
    except TokenError:
        return _error(401, "unauthorized", "a console bearer token is required")
    if claims.role != "console":
        return _error(403, "forbidden", "consoles only")
    tenant = node.config.tenant(claims.tenant)
    if tenant is None or tenant.id not in node.tenants:
        return _error(401, "unauthorized", "unknown tenant")
    try:
        first, last = _period(request, tenant)
        filters = _filters(request, tenant)
        fmt = request.query_params.get("format", "json")
        if fmt not in FORMATS:
            raise BadQuery(f"format: one of {', '.join(FORMATS)}")
    except BadQuery as exc:
        return _error(400, "bad_request", str(exc))
    totals = await query(node, tenant, first, last, filters)
    name = f"vigie-{tenant.id}-{first}-{last}"
    if fmt == "csv":
        return Response(
            stats_csv(totals),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "geojson":
        return JSONResponse(
            hotspots_geojson(totals, tenant.stats.recurring_weeks),
            media_type="application/geo+json",
            headers={"content-disposition": f'attachment; filename="{name}.geojson"'},
        )
    body: dict[str, Any] = {
        "tenant": tenant.id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "filters": filters,
        "resolution": tenant.public_resolution,
        "accuracy": round(ALPHA, 4),
        "sectors": [*sorted(tenant.sectors), OTHER],
        "categories": sorted(tenant.categories),
        **summary(totals, tenant.stats.targets_s, tenant.stats.recurring_weeks),
    }
    return JSONResponse(body)
