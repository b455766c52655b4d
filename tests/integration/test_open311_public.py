"""The public Open311 GETs against a real hub over real HTTP: any origin may read
them (CORS `*`, errors included, preflights answered), POSTs get no CORS
allowance, and each client address has its own token bucket (429 in the path's
format, with Retry-After), the address being uvicorn's, not a raw header."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import urlencode

import httpx
import pytest

from hub.config import Config, Open311Endpoint, Rate, load_config
from hub.server.runner import RunningHub
from tests.conftest import HubFactory

KEY = "fms-test-key-0123456789abcdef"
ORIGIN = {"Origin": "https://opendata.example.org"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BURST = 3
# Every public GET, answering 200 or an error in its format.
GETS = [
    ("/discovery.json", 200),
    ("/services.xml", 200),
    ("/services/noise.json", 200),
    ("/requests.json", 200),
    ("/requests.xml?status=open", 200),
    ("/services/pothole.xml", 404),
    ("/requests/al-nope.json", 404),
    ("/requests.json?status=pending", 400),
    ("/discovery.json?jurisdiction_id=elsewhere", 404),
    ("/nothing/here", 404),
    ("/discovery.txt", 404),
]


def open311_config(get_rate_limit: Rate | None = None) -> Config:
    config = load_config(env={"VIGIE_OPEN311_KEY_FIXMYSTREET": KEY})
    if get_rate_limit is not None:
        config = replace(config, open311=Open311Endpoint(get_rate_limit=get_rate_limit))
    return config


@pytest.fixture
async def o311(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    async with hub_factory(open311_config()) as running:
        yield running


@pytest.fixture
async def limited(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    """A hub whose GETs allow BURST per address, then one a minute."""
    async with hub_factory(open311_config(Rate(BURST, 60.0 * BURST))) as running:
        yield running


def client(hub: RunningHub, source: str | None = None) -> httpx.AsyncClient:
    """HTTP to the hub's Open311 endpoint, from `source` (a loopback address) if given."""
    transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
    return httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2", timeout=10, transport=transport)


def loopback_alias(address: str) -> str:
    """`address` if this machine can send from it (Linux: all of 127/8), else skip."""
    with socket.socket() as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            pytest.skip(f"cannot send from {address} here")
    return address


def error_xml(response: httpx.Response) -> tuple[str | None, str | None]:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    return root.findtext("error/code"), root.findtext("error/description")


# -- CORS ---------------------------------------------------------------------------


async def test_every_get_may_be_read_from_any_origin(o311: RunningHub) -> None:
    async with client(o311) as http:
        for path, status in GETS:
            answer = await http.get(path, headers=ORIGIN)
            assert answer.status_code == status, (path, answer.text)
            assert answer.headers["access-control-allow-origin"] == "*", path
            assert "access-control-allow-credentials" not in answer.headers, path
            assert answer.headers["access-control-expose-headers"] == "Retry-After"
            # The app's security headers are still there: CORS does not replace them.
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert "content-security-policy" in answer.headers, path
        head = await http.head("/services.json", headers=ORIGIN)
        assert head.status_code == 200 and head.headers["access-control-allow-origin"] == "*"
        # No Origin (a server, curl): nothing to allow, the answer is the same.
        plain = await http.get("/services.json")
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


async def test_a_preflight_for_get_is_answered(o311: RunningHub) -> None:
    async with client(o311) as http:
        for path in ("/requests.json", "/services/noise.xml", "/requests/al1.json"):
            answer = await http.options(
                path, headers={**ORIGIN, "Access-Control-Request-Method": "GET"}
            )
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["access-control-allow-origin"] == "*"
            assert answer.headers["access-control-allow-methods"] == "GET, HEAD"
            assert int(answer.headers["access-control-max-age"]) > 0


async def test_no_cors_allowance_for_post(o311: RunningHub) -> None:
    async with client(o311) as http:
        preflight = await http.options(
            "/requests.json",
            headers={
                **ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 400  # the browser sends nothing after this
        assert "POST" not in preflight.headers["access-control-allow-methods"]
        # A form post needs no preflight: it arrives, but its answer has no
        # allowance (the page cannot read it), and the api_key still decides.
        form = {"service_code": "noise", "lat": "43.1839", "long": "3.0042"}
        for fmt in ("json", "xml"):
            keyless = await http.post(
                f"/requests.{fmt}", content=urlencode(form), headers={**FORM, **ORIGIN}
            )
            assert keyless.status_code == 403, keyless.text
            assert "access-control-allow-origin" not in keyless.headers
        keyed = await http.post(
            "/requests.json",
            content=urlencode({**form, "api_key": KEY, "device_id": "d1"}),
            headers={**FORM, **ORIGIN},
        )
        assert keyed.status_code == 200, keyed.text
        assert "access-control-allow-origin" not in keyed.headers


# -- the per-address limit ----------------------------------------------------------


async def test_over_the_burst_is_429_in_the_paths_format(limited: RunningHub) -> None:
    async with client(limited) as http:
        # Half the burst on errors (an unknown id): had they spent nothing, half of it
        # would be left, and the next GET would not be refused. No free scanning.
        for i in range(BURST):
            path, status = ("/services.json", 200) if i % 2 else ("/requests/al-nope.json", 404)
            assert (await http.get(path)).status_code == status
        refused = await http.get("/requests.json", headers=ORIGIN)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["content-type"] == "application/json; charset=utf-8"
        [error] = refused.json()
        assert error["code"] == 429 and "this address" in error["description"]
        assert refused.headers["access-control-allow-origin"] == "*"  # the page learns why
        refused = await http.get("/discovery.xml")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        code, description = error_xml(refused)
        assert code == "429" and description and "this address" in description
        # Refused in every format, a bad one included.
        assert (await http.get("/requests/al-nope.json")).status_code == 429
        assert error_xml(await http.get("/discovery.txt"))[0] == "429"
        metrics = (await http.get(f"{limited.http_url}/metrics")).text
        assert "vigie_open311_get_limited_total 4\n" in metrics  # the operator sees them
        # POSTs are the partner's limit, not this one.
        form = {"service_code": "noise", "lat": "43.1839", "long": "3.0042"}
        form |= {"api_key": KEY, "device_id": "d2"}
        posted = await http.post("/requests.json", content=urlencode(form), headers=FORM)
        assert posted.status_code == 200, posted.text


async def test_another_address_has_its_own_bucket(limited: RunningHub) -> None:
    other = loopback_alias("127.0.0.2")
    async with client(limited) as http:
        for _ in range(BURST):
            await http.get("/services.json")
        assert (await http.get("/services.json")).status_code == 429
    async with client(limited, other) as http:
        for _ in range(BURST):
            assert (await http.get("/services.json")).status_code == 200
        assert (await http.get("/services.json")).status_code == 429


async def test_the_address_is_uvicorns_not_a_raw_header(limited: RunningHub) -> None:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 only (FORWARDED_ALLOW_IPS,
    # docs/deploy.md): from there it names the client, each its own bucket.
    async with client(limited) as http:
        for n in range(BURST + 2):
            answer = await http.get(
                "/services.json", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            assert answer.status_code == 200, n
        for _ in range(BURST):
            await http.get("/services.json", headers={"X-Forwarded-For": "203.0.113.9"})
        limited_one = await http.get("/services.json", headers={"X-Forwarded-For": "203.0.113.9"})
        assert limited_one.status_code == 429
    # From an address uvicorn does not trust, the header is ignored: changing it
    # does not buy a fresh bucket.
    async with client(limited, loopback_alias("127.0.0.3")) as http:
        statuses = [
            (
                await http.get("/services.json", headers={"X-Forwarded-For": f"192.0.2.{n}"})
            ).status_code
            for n in range(BURST + 2)
        ]
        assert statuses == [200] * BURST + [429, 429]
