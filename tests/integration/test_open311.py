"""Open311 GeoReport v2 against a real hub and Redis: the spec's examples and JSON
schemas (../shared/standards/open311), a post exactly as FixMyStreet's Open311.pm
sends it, XML parsed back, the alert fanned out to a console, idempotency, rate
limits per device and per partner, and the public view of requests."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import h3
import httpx
import pytest
from jsonschema import Draft4Validator
from redis.asyncio import Redis
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from hub.config import Config, Rate, load_config
from hub.core import open311_input
from hub.server import open311 as server
from hub.server.runner import RunningHub, running_hub
from hub.store.embedded import EmbeddedRedis
from hub.store.keys import TenantKeys
from tests.conftest import HubFactory, RedisFactory
from tests.wire import SECRET, connect

KEY = "fms-test-key-0123456789abcdef"
KEYS = TenantKeys("narbonne")
CENTRE = (43.1839, 3.0042)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


# -- the reference material -------------------------------------------------------------


def standards_dir(project_root: Path) -> Path:
    """<project root>/../shared/standards/open311: skipped without it, except in CI."""
    folder = project_root.parent / "shared" / "standards" / "open311"
    if not folder.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{folder} is missing: CI must have shared/ beside the clone")
        pytest.skip(f"{folder} is not here (shared/ beside the project root)")
    return folder


@pytest.fixture(scope="module")
def schemas() -> dict[str, Draft4Validator]:
    """The spec's JSON Schemas (draft 4), their relative $refs resolved."""
    folder = standards_dir(Path(__file__).resolve().parents[2])
    names = ("service", "services", "service-definition", "request", "requests")
    contents = {n: json.loads((folder / f"{n}.json").read_text("utf-8")) for n in names}
    registry: Registry[Any] = Registry().with_resources(
        (f"{n}.json", Resource.from_contents(c, default_specification=DRAFT4))
        for n, c in contents.items()
    )
    return {n: Draft4Validator(c, registry=registry) for n, c in contents.items()}


def valid(schemas: dict[str, Draft4Validator], name: str, document: Any) -> None:
    errors = [e.message for e in schemas[name].iter_errors(document)]
    assert errors == [], errors
    for row in document if isinstance(document, list) else [document]:
        for key in ("requested_datetime", "updated_datetime"):
            if row.get(key):  # draft 4 does not check format: W3C with a zone, by hand
                assert datetime.fromisoformat(row[key]).tzinfo is not None, row[key]


# -- a hub with Open311 on --------------------------------------------------------------


def open311_config(**partner: Any) -> Config:
    config = load_config(env={"VIGIE_OPEN311_KEY_FIXMYSTREET": KEY})
    town = config.tenants["narbonne"]
    assert town.open311 is not None
    if partner:
        fms = replace(town.open311.partners["fixmystreet"], **partner)
        open311 = replace(town.open311, partners={"fixmystreet": fms})
        town = replace(town, open311=open311)
    return replace(config, tenants={"narbonne": town})


@pytest.fixture
async def o311(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    async with hub_factory(open311_config()) as running:
        yield running


@pytest.fixture
async def http(o311: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{o311.http_url}/open311/v2", timeout=10) as client:
        yield client


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory(decode_responses=True)


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def spec_post(**changes: str) -> dict[str, str]:
    """The spec's example request, moved to Narbonne (its service_code and point)."""
    form = {
        "api_key": KEY, "jurisdiction_id": "narbonne", "service_code": "road_hazard",
        "lat": "43.18390", "long": "3.00420", "address_string": "1234 5th street",
        "email": "smit333@sfgov.edu", "device_id": "tt222111", "account_id": "123456",
        "first_name": "john", "last_name": "smith", "phone": "111111111",
        "description": "A large sinkhole is destroying the street",
        "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
        "attribute[WHISPAWN]": "123456", "attribute[WHISDORN]": "COISL001",
    }  # fmt: skip
    form.update(changes)
    return {k: v for k, v in form.items() if v != ""}


async def post(http: httpx.AsyncClient, form: dict[str, str], fmt: str = "json") -> httpx.Response:
    return await http.post(f"/requests.{fmt}", content=urlencode(form), headers=FORM)


async def alerts(r: Redis) -> list[dict[str, str]]:
    return [await r.hgetall(k) async for k in r.scan_iter(f"{KEYS.prefix}alert:*")]


# -- discovery and services -------------------------------------------------------------


async def test_discovery_in_both_formats(http: httpx.AsyncClient, o311: RunningHub) -> None:
    doc = (await http.get("/discovery.json")).json()
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{o311.http_url}/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml(await http.get("/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


async def test_services_are_the_categories(
    http: httpx.AsyncClient, config: Config, schemas: dict[str, Draft4Validator]
) -> None:
    answer = await http.get("/services.json", params={"jurisdiction_id": "narbonne"})
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    services = answer.json()
    valid(schemas, "services", services)
    town = config.tenants["narbonne"]
    assert [s["service_code"] for s in services] == list(town.categories)
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["service_name"] == "Nuisance sonore"  # the town's language: French
    assert (noise["type"], noise["metadata"], noise["group"]) == (
        "realtime", False, "tranquillité publique",
    )  # fmt: skip
    assert "tapage" in noise["keywords"] and noise["description"]
    root = xml(await http.get("/services.xml"))
    assert root.tag == "services"
    parsed = [{child.tag: child.text for child in s} for s in root.findall("service")]
    assert parsed[0]["service_code"] == services[0]["service_code"]
    assert parsed[0]["metadata"] == "false" and parsed[0]["type"] == "realtime"
    assert [p["service_name"] for p in parsed] == [s["service_name"] for s in services]


async def test_service_definition(
    http: httpx.AsyncClient, schemas: dict[str, Draft4Validator]
) -> None:
    definition = (await http.get("/services/noise.json")).json()
    valid(schemas, "service-definition", definition)
    assert definition == {"service_code": "noise", "attributes": []}
    root = xml(await http.get("/services/noise.xml"))
    assert root.find("service_code").text == "noise"  # type: ignore[union-attr]
    missing = await http.get("/services/pothole.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "service_code 'pothole' not found"}]
    root = xml(await http.get("/services/pothole.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"  # type: ignore[union-attr]


# -- POST requests ----------------------------------------------------------------------


async def test_the_specs_example_post_becomes_an_alert(
    http: httpx.AsyncClient, r: Redis, redis_url: str
) -> None:
    answer = await post(http, spec_post(), "xml")
    assert answer.status_code == 200, answer.text
    root = xml(answer)
    assert root.tag == "service_requests"
    request_id = root.find("request/service_request_id").text  # type: ignore[union-attr]
    [alert] = await alerts(r)
    assert alert["id"] == request_id and alert["category"] == "road_hazard"
    assert (float(alert["lat"]), float(alert["lon"])) == CENTRE
    assert alert["text"] == "A large sinkhole is destroying the street"
    assert alert["source"] == "open311:fixmystreet"
    assert alert["media_url"].startswith("http://farm3.static.flickr.com/")
    assert alert["citizen"].startswith("open311:fixmystreet:d")  # the device, hashed
    incident = await r.hgetall(KEYS.incident(alert["incident"]))
    assert incident["status"] == "open" and incident["category"] == "road_hazard"
    # Contact details are used (the pseudonym) but stored nowhere, in no form.
    dump = await everything(r)
    for secret in ("smit333", "sfgov", "tt222111", "123456", "john", "smith", "111111111",
                   "1234 5th", "WHISDORN", "COISL001"):  # fmt: skip
        assert secret not in dump, secret


async def everything(r: Redis) -> str:
    """Every key and value in Redis, as one text (to look for what must not be there)."""
    out = []
    async for key in r.scan_iter("*"):
        kind = await r.type(key)
        if kind == "hash":
            out.append(f"{key} {await r.hgetall(key)}")
        elif kind == "string":
            out.append(f"{key} {await r.get(key)}")
        elif kind == "list":
            out.append(f"{key} {await r.lrange(key, 0, -1)}")
        elif kind == "set":
            out.append(f"{key} {await r.smembers(key)}")
        elif kind == "zset":
            out.append(f"{key} {await r.zrange(key, 0, -1)}")
        elif kind == "stream":
            out.append(f"{key} {await r.xrange(key)}")
    return "\n".join(out)


# FixMyStreet's perllib/Open311.pm (_populate_service_request_params, _request): it
# POSTs a form (HTTP::Request::Common, no charset) with jurisdiction_id and api_key
# added, lat/long truncated to 6 decimals, its "title\n\ndetail\n\nurl" description,
# and each extra field as attribute[name]; it reads service_request_id back from
# the XML (XML::Simple: service_requests/request[0]/service_request_id).
FMS_FIELDS = [
    ("jurisdiction_id", "narbonne"),
    ("api_key", KEY),
    ("description", "Scooters on the promenade\n\nEvery night around 11pm, racing.\n\n"
                    "https://fixmystreet.example/report/4242\n"),
    ("service_code", "rodeo"),
    ("first_name", "Jeanne"),
    ("last_name", "Martin"),
    ("email", "jeanne.martin@example.org"),
    ("phone", "+33 6 12 34 56 78"),
    ("lat", "43.160012"),
    ("long", "3.160034"),
    ("media_url", "https://fixmystreet.example/photo/4242.0.full.jpeg"),
    ("attribute[fixmystreet_id]", "4242"),
    ("attribute[title]", "Scooters on the promenade"),
    ("attribute[description]", "Every night around 11pm, racing."),
    ("attribute[report_url]", "https://fixmystreet.example/report/4242"),
    ("attribute[closest_address]", "Avenue du Front de Mer, Narbonne-Plage"),
]  # fmt: skip


async def test_a_post_exactly_as_fixmystreet_sends_it(
    http: httpx.AsyncClient, o311: RunningHub, r: Redis
) -> None:
    console, _ = await connect(o311.ws_url, "console", "op1")
    assert (await console.expect("snapshot"))["incidents"] == []  # live from here on
    answer = await http.post(
        "/requests.xml",
        content=urlencode(FMS_FIELDS).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    requests = xml(answer).findall("request")
    request_id = requests[0].find("service_request_id").text  # type: ignore[union-attr]
    assert request_id and request_id.startswith("al")
    # The same pipeline as a citizen's: the console sees the incident over its socket.
    event = await console.expect("incident", where=lambda m: m["incident"]["category"] == "rodeo")
    assert event["incident"]["reports"] == 1 and event["stream"] == "events"
    [alert] = await alerts(r)
    assert alert["id"] == request_id and alert["citizen"].startswith("open311:fixmystreet:e")
    assert alert["text"].startswith("Scooters on the promenade")
    # FixMyStreet re-sends a report it thinks failed: the same request, nothing twice.
    again = await http.post("/requests.xml", content=urlencode(FMS_FIELDS), headers=FORM)
    assert xml(again).find("request/service_request_id").text == request_id  # type: ignore[union-attr]
    assert len(await alerts(r)) == 1
    late = await console.collect(0.3)
    assert [m for m in console.backlog + late if m["type"] == "incident"] == []
    await console.close()


async def test_a_repost_is_the_same_request(http: httpx.AsyncClient, r: Redis) -> None:
    first = (await post(http, spec_post())).json()
    second = (await post(http, spec_post())).json()
    assert first == second and first[0]["service_request_id"].startswith("al")
    other = (await post(http, spec_post(description="Another hole"))).json()
    assert other != first
    assert len(await alerts(r)) == 2


async def test_rate_limit_per_device(hub_factory: HubFactory, r: Redis) -> None:
    config = open311_config()
    town = replace(config.tenants["narbonne"], alert_rate_limit=Rate(2, 600.0))
    async with (
        hub_factory(replace(config, tenants={"narbonne": town})) as hub,
        httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2") as http,
    ):
        for n in range(2):
            ok = await post(http, spec_post(description=f"report {n}"))
            assert ok.status_code == 200, ok.text
        refused = await post(http, spec_post(description="report 3"))
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        [error] = refused.json()
        assert error["code"] == 429 and "this reporter" in error["description"]
        other = await post(http, spec_post(device_id="another-phone", description="report 3"))
        assert other.status_code == 200  # another device of the same partner
    assert len(await alerts(r)) == 3


async def test_rate_limit_per_partner(hub_factory: HubFactory, r: Redis) -> None:
    config = open311_config(rate_limit=Rate(2, 60.0))
    async with (
        hub_factory(config) as hub,
        httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2") as http,
    ):
        for n in range(2):
            assert (await post(http, spec_post(device_id=f"phone{n}"))).status_code == 200
        refused = await post(http, spec_post(device_id="phone9"), "xml")
        assert refused.status_code == 429
        assert "this partner" in xml(refused).find("error/description").text  # type: ignore[operator, union-attr]
    assert len(await alerts(r)) == 2


# -- GET requests -----------------------------------------------------------------------


async def test_requests_are_public_at_a_coarse_resolution(
    http: httpx.AsyncClient, o311: RunningHub, r: Redis, schemas: dict[str, Draft4Validator]
) -> None:
    posted = (await post(http, spec_post())).json()[0]["service_request_id"]
    rows = (await http.get("/requests.json")).json()
    valid(schemas, "requests", rows)
    [row] = rows
    assert row["service_request_id"] == posted and row["status"] == "open"
    assert row["service_code"] == "road_hazard" and row["service_name"] == "Danger sur la voie"
    # The centre of the res-7 cell, not the point; no text, no media, no reporter.
    centre = h3.cell_to_latlng(h3.latlng_to_cell(*CENTRE, 7))
    assert (row["lat"], row["long"]) == (round(centre[0], 6), round(centre[1], 6))
    assert (row["lat"], row["long"]) != CENTRE
    assert row["description"] is None and row["media_url"] is None and row["address"] is None
    assert "smit333" not in json.dumps(rows) and "tt222111" not in json.dumps(rows)
    requested = datetime.fromisoformat(row["requested_datetime"])
    assert requested.utcoffset() is not None and requested.utcoffset().total_seconds() in (
        3600,
        7200,
    )  # type: ignore[union-attr]
    # An operator closes it: the request reads closed, with the fixed public note.
    console, _ = await connect(o311.ws_url, "console", "op1")
    alert = await r.hgetall(KEYS.alert(posted))
    reply = await console.request(
        {"type": "incident.update", "ref": "c1", "incident": alert["incident"],
         "status": "closed", "note": "Mme Dupont du 3e étage encore"}
    )  # fmt: skip
    assert reply["type"] == "ok", reply
    root = xml(await http.get(f"/requests/{posted}.xml"))
    request = root.find("request")
    assert request is not None and request.find("status").text == "closed"  # type: ignore[union-attr]
    note = request.find("status_notes").text  # type: ignore[union-attr]
    assert note == "L'intervention est terminée. Merci de votre signalement."
    assert "Dupont" not in (await http.get("/requests.json")).text
    closed = (await http.get(f"/requests/{posted}.json")).json()
    valid(schemas, "requests", closed)
    assert closed[0]["updated_datetime"] >= closed[0]["requested_datetime"]
    await console.close()


async def test_get_requests_filters(http: httpx.AsyncClient, o311: RunningHub) -> None:
    a = await post(http, spec_post(service_code="noise"))
    b = await post(http, spec_post(service_code="fire", description="smoke"))
    ida, idb = a.json()[0]["service_request_id"], b.json()[0]["service_request_id"]

    async def ids(**params: str) -> list[str]:
        answer = await http.get("/requests.json", params=params)
        assert answer.status_code == 200, answer.text
        return [row["service_request_id"] for row in answer.json()]

    assert await ids() == [idb, ida]  # newest first
    assert await ids(service_code="noise") == [ida]
    assert await ids(service_code="noise,fire") == [idb, ida]
    assert await ids(status="closed") == []
    assert await ids(status="open,closed") == [idb, ida]
    assert await ids(service_request_id=f"{ida},al999") == [ida]
    assert await ids(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00+01:00") == []
    # A citizen's own report (over the app) is not an Open311 request: not shown.
    citizen, _ = await connect(o311.ws_url, "citizen", "c1")
    ack = await citizen.request(
        {"type": "alert.submit", "ref": "r1", "category": "noise",
         "lat": CENTRE[0], "lon": CENTRE[1], "text": "music"}
    )  # fmt: skip
    assert await ids() == [idb, ida]
    assert (await http.get(f"/requests/{ack['alert']}.json")).status_code == 404
    assert await ids(service_request_id=ack["alert"]) == []
    await citizen.close()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00"}, "zone"),  # no zone
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "after"),
        ({"status": "pending"}, "status"),
        ({"service_code": "noise' OR '1'='1"}, "service_code"),
        ({"service_request_id": "x" * 65}, "service_request_id"),
        ({"jurisdiction_id": "sfgov.org"}, "jurisdiction_id"),
    ],
)
async def test_bad_get_requests_filters(
    http: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    answer = await http.get("/requests.json", params=params)
    assert answer.status_code in (400, 404)
    [error] = answer.json()
    assert error["code"] == answer.status_code and says in error["description"]
    root = xml(await http.get("/requests.xml", params=params))
    assert says in root.find("error/description").text  # type: ignore[operator, union-attr]


async def test_unknown_request_and_resources_are_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/requests/al999.json")).json()[0]["code"] == 404
    assert xml(await http.get("/requests/al999.xml")).tag == "errors"
    assert (await http.get("/services.yaml")).status_code == 404
    assert (await http.get("/tokens/123.json")).json()[0]["code"] == 404


# -- bad input: a clear error in the spec's shape, nothing stored or changed ------------


async def state(r: Redis) -> tuple[set[str], dict[str, str], list[Any]]:
    """What a refused post must not change: the keys, the id counters, the events."""
    keys = {k async for k in r.scan_iter("*") if ":canary" not in k and ":lock:" not in k}
    events = [e for e in await r.xrange(KEYS.events) if e[1]["k"] not in ("canary", "queue")]
    return keys, await r.hgetall(KEYS.seq), events


XXE = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">'
    '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    "<request><service_code>noise</service_code><lat>43.18</lat><long>3.0</long>"
    "<description>&x;&b;</description></request>"
)

BAD_POSTS: list[tuple[str, dict[str, str] | bytes, dict[str, str], int, str]] = [
    ("non-numeric lat", spec_post(lat="forty-three"), FORM, 400, "lat"),
    ("nan lat", spec_post(lat="nan"), FORM, 400, "lat"),
    ("exponent lat", spec_post(lat="4.3e1"), FORM, 400, "lat"),
    ("lat out of range", spec_post(lat="143.1"), FORM, 400, "lat"),
    ("lat without long", spec_post(long=""), FORM, 400, "long"),
    ("address only", spec_post(lat="", long=""), FORM, 400, "does not geocode"),
    ("oversized description", spec_post(description="x" * 1001), FORM, 400, "description"),
    ("control characters", spec_post(description="a\x00b\x1b[2J"), FORM, 400, "control"),
    ("out of area (Paris)", spec_post(lat="48.8566", long="2.3522"), FORM, 400, "outside"),
    ("wrong key", spec_post(api_key="not-the-key-0123456789"), FORM, 403, "Invalid api_key"),
    ("missing key", spec_post(api_key=""), FORM, 403, "api_key"),
    ("key injection", spec_post(api_key="' OR '1'='1"), FORM, 403, "Invalid api_key"),
    ("unknown service_code", spec_post(service_code="pothole"), FORM, 404, "service_code"),
    ("service_code injection", spec_post(service_code="noise\r\nX-Evil: 1"), FORM, 404,
     "service_code"),
    ("lua-ish service_code", spec_post(service_code="noise|in1"), FORM, 404, "service_code"),
    ("unknown jurisdiction", spec_post(jurisdiction_id="narbonne.fr' --"), FORM, 404,
     "jurisdiction_id"),
    ("javascript media", spec_post(media_url="javascript:alert(1)"), FORM, 400, "media_url"),
    ("malformed attribute", spec_post(**{"attribute[a][b][c]": "1"}), FORM, 400, "attribute"),
    ("attribute markup", spec_post(**{"attribute[<x>]": "1"}), FORM, 400, "attribute"),
    ("repeated field", urlencode([*spec_post().items(), ("lat", "43.2")]).encode(), FORM, 400,
     "more than once"),
    ("not utf-8", urlencode(spec_post()).encode() + b"&description=%ff%fe", FORM, 400, "UTF-8"),
    ("latin-1 charset", urlencode(spec_post()).encode(),
     {"Content-Type": "application/x-www-form-urlencoded; charset=iso-8859-1"}, 400, "UTF-8"),
    ("oversized body", urlencode(spec_post(description="x" * 70_000)).encode(), FORM, 400,
     "larger than"),
    ("too many fields", "&".join(f"f{i}=1" for i in range(300)).encode(), FORM, 400, "fields"),
    ("an XML body (XXE, entity expansion)", XXE.encode(), {"Content-Type": "text/xml"}, 400,
     "x-www-form-urlencoded"),
    ("a JSON body", json.dumps(spec_post()).encode(), {"Content-Type": "application/json"}, 400,
     "x-www-form-urlencoded"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "headers", "status", "says"), [b[1:] for b in BAD_POSTS],
                         ids=[b[0] for b in BAD_POSTS])  # fmt: skip
async def test_bad_posts_are_refused_and_change_nothing(
    http: httpx.AsyncClient,
    r: Redis,
    body: dict[str, str] | bytes,
    headers: dict[str, str],
    status: int,
    says: str,
) -> None:
    await post(http, spec_post(description="a first, good one"))  # the state to keep
    before = await state(r)
    content = urlencode(body).encode() if isinstance(body, dict) else body
    for fmt in ("json", "xml"):
        answer = await http.post(f"/requests.{fmt}", content=content, headers=headers)
        assert answer.status_code == status, answer.text
        if fmt == "json":
            assert answer.headers["content-type"] == "application/json; charset=utf-8"
            [error] = answer.json()
            description = error["description"]
            assert error["code"] == status
        else:
            root = xml(answer)
            assert root.tag == "errors" and root.find("error/code").text == str(status)  # type: ignore[union-attr]
            description = root.find("error/description").text or ""  # type: ignore[union-attr]
        assert says in description, description
        assert "Traceback" not in answer.text and "etc/passwd" not in answer.text
    assert await state(r) == before


async def test_every_problem_is_listed(http: httpx.AsyncClient) -> None:
    answer = await post(http, spec_post(lat="x", long="y", description="z" * 2000))
    described = [e["description"] for e in answer.json()]
    assert answer.status_code == 400 and len(described) == 3, described


async def test_text_with_markup_is_stored_as_text_and_never_published(
    http: httpx.AsyncClient, r: Redis
) -> None:
    text = "</description><status>closed</status><script>alert(1)</script> ]]> &amp;"
    request_id = (await post(http, spec_post(description=text))).json()[0]["service_request_id"]
    assert (await r.hgetall(KEYS.alert(request_id)))["text"] == text
    answer = await http.get(f"/requests/{request_id}.xml")
    root = xml(answer)
    assert root.find("request/status").text == "open"  # type: ignore[union-attr]
    assert "<script>" not in answer.text and "alert(1)" not in answer.text


async def test_a_partner_without_a_key_is_refused(hub_factory: HubFactory, r: Redis) -> None:
    config = open311_config(api_key=None)
    async with (
        hub_factory(config) as hub,
        httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2") as http,
    ):
        answer = await post(http, spec_post())
        assert answer.status_code == 403
    assert await alerts(r) == []


async def test_a_merged_request_follows_the_incident_it_joined(
    http: httpx.AsyncClient, o311: RunningHub, r: Redis
) -> None:
    far = spec_post(lat="43.160012", long="3.160034", description="same thing, seen from afar")
    a = (await post(http, spec_post())).json()[0]["service_request_id"]
    b = (await post(http, far)).json()[0]["service_request_id"]
    into = (await r.hgetall(KEYS.alert(a)))["incident"]
    source = (await r.hgetall(KEYS.alert(b)))["incident"]
    assert into != source
    console, _ = await connect(o311.ws_url, "console", "op1")
    merged = await console.request(
        {"type": "incident.merge", "ref": "m", "into": into, "from": [source]}
    )
    assert merged["type"] == "ok", merged
    rows = (await http.get("/requests.json", params={"service_request_id": f"{a},{b}"})).json()
    assert [row["status"] for row in rows] == ["open", "open"]
    await console.request(
        {"type": "incident.update", "ref": "c", "incident": into, "status": "closed"}
    )
    rows = (await http.get("/requests.json", params={"service_request_id": f"{a},{b}"})).json()
    assert [row["status"] for row in rows] == ["closed", "closed"]
    # Each keeps its own coarse place, not the incident's.
    assert rows[0]["lat"] != rows[1]["lat"]
    await console.close()


async def test_the_specs_sample_urls(http: httpx.AsyncClient) -> None:
    # GET requests.xml?start_date=2010-05-24T00:00:00Z&end_date=2010-06-24T00:00:00Z&status=open
    sample = (
        "/requests.xml?start_date=2010-05-24T00:00:00Z&end_date=2010-06-24T00:00:00Z&status=open"
    )
    root = xml(await http.get(sample + "&jurisdiction_id=narbonne"))
    assert root.tag == "service_requests" and list(root) == []
    # ...&jurisdiction_id=city.gov: not a jurisdiction of this hub.
    root = xml(await http.get(sample + "&jurisdiction_id=city.gov"))
    assert root.find("error/code").text == "404"  # type: ignore[union-attr]
    assert xml(await http.get("/services/033.xml?jurisdiction_id=narbonne")).tag == "errors"


async def test_the_limit_holds_across_index_batches(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(open311_input, "LIMIT", 3)
    monkeypatch.setattr(server, "LIMIT", 3)
    monkeypatch.setattr(server, "SCAN_BATCH", 2)
    ids = []
    for n in range(5):
        answer = await post(http, spec_post(service_code="noise" if n % 2 else "fire",
                                            description=f"n{n}"))  # fmt: skip
        ids.append(answer.json()[0]["service_request_id"])
    rows = (await http.get("/requests.json")).json()
    assert [row["service_request_id"] for row in rows] == ids[::-1][:3]
    noise = (await http.get("/requests.json", params={"service_code": "noise"})).json()
    assert [row["service_request_id"] for row in noise] == [ids[3], ids[1]]


async def test_several_towns_need_a_jurisdiction(hub_factory: HubFactory) -> None:
    config = open311_config()
    narbonne = config.tenants["narbonne"]
    assert narbonne.open311 is not None
    gruissan = replace(
        narbonne, id="gruissan", open311=replace(narbonne.open311, jurisdiction_id="gruissan.fr")
    )
    config = replace(config, tenants={"narbonne": narbonne, "gruissan": gruissan})
    async with (
        hub_factory(config) as hub,
        httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2") as http,
    ):
        answer = await http.get("/services.json")
        assert answer.status_code == 400 and "jurisdiction_id" in answer.json()[0]["description"]
        assert (await http.get("/services.json?jurisdiction_id=gruissan.fr")).status_code == 200
        posted = await post(http, spec_post(jurisdiction_id="gruissan.fr"))
        assert posted.status_code == 200, posted.text
        mine = (await http.get("/requests.json?jurisdiction_id=gruissan.fr")).json()
        theirs = (await http.get("/requests.json?jurisdiction_id=narbonne")).json()
        assert len(mine) == 1 and theirs == []  # no data crosses towns


async def test_redis_away_is_503_and_stores_nothing(tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path, appendonly=False)
    redis.start()
    async with (
        running_hub(open311_config(), redis.url, SECRET) as hub,
        httpx.AsyncClient(base_url=f"{hub.http_url}/open311/v2", timeout=15) as http,
    ):
        redis.stop()
        answer = await post(http, spec_post(), "xml")
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
        assert "nothing was stored" in xml(answer).find("error/description").text  # type: ignore[operator, union-attr]
        assert (await http.get("/requests.json")).status_code == 503


@pytest.mark.parametrize(
    "path",
    ["/requests/al1%00.json", "/requests/%3Cscript%3E.xml", "/services/..%2F..%2Fetc.json",
     "/requests/" + "9" * 300 + ".json", "/requests/al1'%20OR%20'1'='1.json"],
)  # fmt: skip
async def test_bad_paths_are_404_and_change_nothing(
    http: httpx.AsyncClient, r: Redis, path: str
) -> None:
    await post(http, spec_post())
    before = await state(r)
    answer = await http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(("application/json", "text/xml"))
    assert "<script>" not in answer.text
    assert await state(r) == before


def test_a_partner_without_a_key_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="vigie.open311"):
        server.open311_mount(load_config(env={}))
    assert "VIGIE_OPEN311_KEY_FIXMYSTREET is unset" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="vigie.open311"):
        server.open311_mount(open311_config())
    assert caplog.text == ""
