"""The web apps' HTTP API on a real hub: tenant, cells, cells/at, dev sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import h3
import httpx
import pytest

from hub.config import Config
from hub.core.tokens import issue_token, verify_token
from hub.server.runner import RunningHub, running_hub
from tests.integration.test_cli import http_get, vigie_env, vigie_serve
from tests.wire import SECRET, token

CENTRE = (43.1839, 3.0042)  # Narbonne, in the area
AT_SEA = (43.0, 3.5)


def bearer(role: str = "citizen", sub: str = "c1", tenant: str = "narbonne") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, sub, tenant)}"}


@pytest.fixture
async def http(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.http_url, timeout=5) as client:
        yield client


@pytest.fixture
async def dev_http(redis_url: str, config: Config) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_hub(config, redis_url, SECRET, dev=True) as dev_hub,
        httpx.AsyncClient(base_url=dev_hub.http_url, timeout=5) as client,
    ):
        yield client


# -- tenant ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["citizen", "unit", "console"])
async def test_tenant_for_every_role(http: httpx.AsyncClient, role: str) -> None:
    reply = await http.get("/api/v1/tenant", headers=bearer(role))
    assert reply.status_code == 200
    body: dict[str, Any] = reply.json()
    assert (body["id"], body["name"], body["timezone"]) == ("narbonne", "Narbonne", "Europe/Paris")
    assert body["resolution"] == 9 and body["tiles"] is None and body["emergency"] == "17 / 112"
    (south, west), (north, east) = body["bounds"]
    assert south < body["center"][0] < north and west < body["center"][1] < east
    ring = body["outline"]["coordinates"][0]
    assert body["outline"]["type"] == "Polygon" and ring[0] == ring[-1]
    assert ring[0] == [2.944, 43.236]  # [lon, lat] order, from the config's first point
    noise = next(c for c in body["categories"] if c["id"] == "noise")
    assert noise == {
        "id": "noise",
        "priority": 4,
        "label": {"fr": "Nuisance sonore", "en": "Noise"},
    }
    priorities = [c["priority"] for c in body["categories"]]
    assert priorities == sorted(priorities)
    # The named sectors, each with the cell a unit covering it sends in `cover`.
    assert [s["name"] for s in body["sectors"]] == ["centre", "nord", "ouest", "plage", "sud"]
    centre = body["sectors"][0]["cell"]
    assert centre == h3.latlng_to_cell(43.1839, 3.0042, 7)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Basic {token('console', 'op')}"},
        {"Authorization": f"Bearer {token('console', 'op', ttl_s=-60)}"},  # expired
        {"Authorization": f"Bearer {token('console', 'op', tenant='atlantis')}"},
    ],
    ids=["none", "empty", "malformed", "not-bearer", "expired", "unknown-tenant"],
)
@pytest.mark.parametrize("path", ["/api/v1/tenant", "/api/v1/cells?cells=x", "/api/v1/cells/at"])
async def test_forbidden_without_a_valid_token(
    http: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    reply = await http.get(path, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized"


async def test_forged_token_refused(http: httpx.AsyncClient) -> None:
    forged = issue_token(
        "another-secret-0123456789abcdef0123", sub="x", role="console", tenant="narbonne"
    )
    reply = await http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401


# -- cells ----------------------------------------------------------------------------


async def test_cells_as_geojson(http: httpx.AsyncClient) -> None:
    cell = h3.latlng_to_cell(*CENTRE, 9)
    sector = h3.latlng_to_cell(*CENTRE, 7)
    reply = await http.get(f"/api/v1/cells?cells={cell},{sector},{cell}", headers=bearer())
    assert reply.status_code == 200
    body = reply.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["cell"] for f in body["features"]] == [cell, sector]  # deduplicated
    ring = body["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 7 and ring[0] == ring[-1]  # a hexagon, closed
    lon, lat = ring[0]
    assert h3.latlng_to_cell(lat, lon, 7) == sector  # [lon, lat] order, on the cell's edge


async def test_cells_at_most_500(http: httpx.AsyncClient) -> None:
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 13))  # 547 cells
    ok = await http.get(f"/api/v1/cells?cells={','.join(cells[:500])}", headers=bearer())
    assert ok.status_code == 200 and len(ok.json()["features"]) == 500
    over = await http.get(f"/api/v1/cells?cells={','.join(cells[:501])}", headers=bearer())
    assert over.status_code == 400 and over.json()["error"] == "too_large"
    assert "500" in over.json()["message"]
    huge = await http.get(f"/api/v1/cells?cells={'8' * 10_000}", headers=bearer())
    assert huge.status_code == 400 and huge.json()["error"] == "too_large"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "cells=",
        "cells=,,,",
        "cells=hello",
        "cells=893963A6253FFFF",  # upper case: not canonical
        "cells=893963a6253fff",  # one digit short
        "cells=893963a6253ffff893963a6253ffff",
        "cells=%00%01",
        "cells=893963a6253ffff,<script>",
    ],
)
async def test_cells_malformed(http: httpx.AsyncClient, query: str) -> None:
    reply = await http.get(f"/api/v1/cells?{query}", headers=bearer())
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "bad_request" and body["message"].startswith("cells:")


async def test_cell_at_a_point_in_town(http: httpx.AsyncClient) -> None:
    lat, lon = CENTRE
    reply = await http.get("/api/v1/cells/at", params={"lat": lat, "lon": lon}, headers=bearer())
    assert reply.status_code == 200
    assert reply.json() == {"cell": h3.latlng_to_cell(lat, lon, 9)}


async def test_cell_at_out_of_area(http: httpx.AsyncClient) -> None:
    lat, lon = AT_SEA
    reply = await http.get("/api/v1/cells/at", params={"lat": lat, "lon": lon}, headers=bearer())
    assert reply.status_code == 400
    assert reply.json()["error"] == "out_of_area"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"lat": "43.18"},
        {"lat": "north", "lon": "3"},
        {"lat": "nan", "lon": "3"},
        {"lat": "inf", "lon": "3"},
        {"lat": "91", "lon": "3"},
        {"lat": "43", "lon": "-180.5"},
        {"lat": "4" * 5000, "lon": "3"},
    ],
)
async def test_cell_at_malformed(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    reply = await http.get("/api/v1/cells/at", params=params, headers=bearer())
    assert reply.status_code == 400
    assert reply.json()["error"] == "bad_request"


# -- dev sign-in ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/signin"), ("HEAD", "/signin"), ("POST", "/signin"), ("GET", "/signin/tenants")],
)
async def test_no_sign_in_outside_dev_mode(http: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"role": "console", "sub": "op", "tenant": "narbonne"}
    reply = await http.request(method, path, json=body if method == "POST" else None)
    assert reply.status_code == 404
    assert "token" not in reply.text


async def test_dev_sign_in_mints_a_token(dev_http: httpx.AsyncClient) -> None:
    page = await dev_http.get("/signin")
    assert page.status_code == 200 and "signin/main.js" in page.text
    assert (await dev_http.get("/signin/tenants")).json() == [
        {"id": "narbonne", "name": "Narbonne"}
    ]
    reply = await dev_http.post(
        "/signin", json={"role": "unit", "sub": "u-7", "tenant": "narbonne"}
    )
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    claims = verify_token(SECRET, reply.json()["token"])
    assert (claims.role, claims.sub, claims.tenant) == ("unit", "u-7", "narbonne")


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin", "sub": "x", "tenant": "narbonne"},
        {"role": "console", "sub": "", "tenant": "narbonne"},
        {"role": "console", "sub": "x" * 65, "tenant": "narbonne"},
        {"role": "console", "sub": "a\nb", "tenant": "narbonne"},
        {"role": "console", "sub": 7, "tenant": "narbonne"},
        {"role": "console", "sub": "x", "tenant": "atlantis"},
        {"role": "console", "sub": "x"},
        ["console", "x", "narbonne"],
    ],
)
async def test_dev_sign_in_refuses_bad_input(dev_http: httpx.AsyncClient, body: Any) -> None:
    reply = await dev_http.post("/signin", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"] == "bad_request" and "token" not in reply.json()


async def test_dev_sign_in_refuses_non_json_and_oversized(dev_http: httpx.AsyncClient) -> None:
    form = await dev_http.post(
        "/signin", data={"role": "console", "sub": "x", "tenant": "narbonne"}
    )
    assert form.status_code == 400  # a cross-site form cannot mint tokens
    junk = await dev_http.post(
        "/signin", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert junk.status_code == 400
    big = b'{"role": "console", "sub": "' + b"x" * 10_000 + b'", "tenant": "narbonne"}'
    over = await dev_http.post("/signin", content=big, headers={"content-type": "application/json"})
    assert over.status_code == 400 and "4096" in over.json()["message"]


# -- `vigie serve`: --dev reaches the workers (uvicorn --factory builds the app) -------


@pytest.mark.parametrize(("dev", "status"), [(True, 200), (False, 404)], ids=["dev", "not-dev"])
async def test_vigie_serve_has_sign_in_only_with_dev(
    redis_url: str, tmp_path: Path, dev: bool, status: int
) -> None:
    args = ["--redis-url", redis_url, *(["--dev"] if dev else [])]
    env = vigie_env() if dev else vigie_env(VIGIE_SECRET=SECRET)
    async with vigie_serve(*args, cwd=tmp_path, env=env) as served:
        assert (await http_get(served.port, "/signin/tenants"))[0] == status
        assert (await http_get(served.port, "/console"))[0] == 200
