"""The town's statistics against a small history computed by hand, through the real
scripts (a replayed past, then a live incident over WebSockets), and the API's doors."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import h3
import httpx
import orjson
import pytest

from hub.core.stats import ALPHA
from hub.demo.history import PastIncident, PastStep, replay
from hub.server.runner import RunningHub
from tests.wire import connect, token

PARIS = ZoneInfo("Europe/Paris")
CENTRE = (43.1839, 3.0042)
NORD = (43.2050, 3.0100)
S = 1000  # ms per second


def at(day: int, hour: int, minute: int = 0) -> int:
    """November 2026, local time in Narbonne (UTC+1 then)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=PARIS).timestamp() * 1000)


def steps(t0: int, *pairs: tuple[str, int]) -> tuple[PastStep, ...]:
    """Steps at cumulative offsets in seconds from t0."""
    out, t = [], t0
    for action, seconds in pairs:
        t += seconds * S
        out.append(PastStep(action, t))
    return tuple(out)


A, B, C = at(2, 21), at(3, 2), at(4, 12)
D, F, E = at(8, 20), at(10, 23), at(16, 22)
HISTORY = [
    # A: noise, acknowledged after 120 s, closed 1800 s later.
    PastIncident("noise", *CENTRE, A, steps(A, ("acknowledge", 120), ("close", 1800))),
    # B: violence, dispatched at 300 s (never acknowledged), on scene 600 s later,
    # resolved 1200 s later.
    PastIncident("violence", *CENTRE, B,
                 steps(B, ("dispatch", 300), ("on_scene", 600), ("resolve", 1200))),
    # C: violence in the north, 3 reporters; ack 60, dispatch 240, on scene 200, resolve 1000.
    PastIncident("violence", *NORD, C,
                 steps(C, ("acknowledge", 60), ("dispatch", 240), ("on_scene", 200),
                       ("resolve", 1000)), more_reports_ms=(60 * S, 120 * S)),
    # D: noise again (Sunday of the same week), rejected.
    PastIncident("noise", *CENTRE, D, steps(D, ("reject", 600))),
    # F: noise the next week: ack 100, closed 200 later.
    PastIncident("noise", *CENTRE, F, steps(F, ("acknowledge", 100), ("close", 200))),
    # E: noise the week after: ack 300, closed 600 later.
    PastIncident("noise", *CENTRE, E, steps(E, ("acknowledge", 300), ("close", 600))),
]  # fmt: skip


async def _stats(hub: RunningHub, role: str = "console", **params: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {token(role, 'op1')}"}
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        return await http.get("/api/v1/stats", params=params, headers=headers)


async def _seeded(hub: RunningHub) -> dict[str, Any]:
    node = hub.node
    stored = await replay(node.store, node.config, node.config.tenants["narbonne"], HISTORY, 1)
    assert stored == len(HISTORY)
    response = await _stats(hub, **{"from": "2026-11-01", "to": "2026-11-30"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def near(expected: float) -> Any:
    return pytest.approx(expected, rel=ALPHA + 1e-9)


async def test_volumes_match_the_hand_count(hub: RunningHub) -> None:
    body = await _seeded(hub)
    volumes = body["volumes"]
    assert volumes["incidents"] == 6 and volumes["reports"] == 8
    assert volumes["by_category"] == {"noise": 4, "violence": 2}
    assert volumes["by_sector"] == {"centre": 5, "nord": 1}
    hours = volumes["by_hour_of_week"]
    # Mon 21h, Mon 22h, Tue 02h, Tue 23h, Wed 12h, Sun 20h
    assert {h: n for h, n in enumerate(hours) if n} == {21: 1, 22: 1, 26: 1, 47: 1, 60: 1, 164: 1}
    assert [d["day"] for d in volumes["by_day"]] == [
        "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-08", "2026-11-10", "2026-11-16",
    ]  # fmt: skip
    assert body["outcomes"] == {"closed": 3, "resolved": 2, "rejected": 1}


async def test_stage_times_match_the_hand_computed_quantiles(hub: RunningHub) -> None:
    stages = (await _seeded(hub))["stages"]
    # (count, p50, p90): p = the value of rank floor(q * (n - 1)) of the sorted times
    expected = {
        "acknowledged": (4, 100, 120),  # 60 100 120 300
        "dispatched": (2, 240, 240),  # 240 (C, from its ack) 300 (B, from reception)
        "on_scene": (2, 200, 200),  # 200 600
        "resolved": (5, 1000, 1200),  # 200 600 1000 1200 1800
        "response": (5, 900, 900),  # 300 500 900 900 1920
        "total": (5, 1500, 1920),  # 300 900 1500 1920 2100
    }
    for series, (count, p50, p90) in expected.items():
        got = stages[series]
        assert got["count"] == count, series
        assert got["p50_s"] == near(p50), series
        assert got["p90_s"] == near(p90), series
        assert sum(b["count"] for b in got["histogram"]) == count
    # Chart bins: 200 s in the "<= 300 s" one, 1000 s in "<= 1200 s", none past 1800 s
    # (times on a bin's edge fall either side of it, within ALPHA).
    bins = {b["le_s"]: b["count"] for b in stages["resolved"]["histogram"]}
    assert bins[300] == 1 and bins[1200] >= 1 and bins[2700] == bins[None] == 0


async def test_targets_recurring_cells_and_filters(hub: RunningHub) -> None:
    body = await _seeded(hub)
    # P1 target 600 s: B took 900, C 500. P4 target 7200 s: A 1920, F 300, E 900.
    assert body["targets"]["1"] == {"target_s": 600, "handled": 2, "within": 1, "share": 0.5}
    assert body["targets"]["4"]["share"] == 1.0 and body["targets"]["4"]["handled"] == 3
    centre = h3.latlng_to_cell(*CENTRE, 7)
    assert body["recurring"] == [{"cell": centre, "category": "noise", "weeks": 3, "incidents": 4}]
    assert body["hotspots"][0] == {"cell": centre, "incidents": 5}
    only = (await _stats(hub, category="violence", sector="nord", **{"from": "2026-11-01"})).json()
    assert only["volumes"]["incidents"] == 1 and only["stages"]["response"]["count"] == 1
    assert only["filters"] == {"category": "violence", "sector": "nord"}


async def test_the_incident_says_it_comes_back(hub: RunningHub) -> None:
    await _seeded(hub)
    headers = {"authorization": f"Bearer {token('console', 'op1')}"}
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        # in4 is D: the 2nd noise incident of the area in 7 days (after A).
        d = (await http.get("/api/v1/incidents/in4", headers=headers)).json()["incident"]
        a = (await http.get("/api/v1/incidents/in1", headers=headers)).json()["incident"]
    assert d["recurrence"] == 2 and d["recurrence_days"] == 7
    assert "recurrence" not in a


async def test_csv_and_geojson_exports(hub: RunningHub) -> None:
    await _seeded(hub)
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    csv = await _stats(hub, format="csv", **period)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().split("\r\n")
    assert lines[0].startswith("day,category,incidents,reports,acknowledged_p50_s")
    assert len(lines) == 1 + 6  # one (day, category) per incident here
    c_row = next(line for line in lines if line.startswith("2026-11-04,violence"))
    assert c_row.split(",")[2:4] == ["1", "3"]
    geo = await _stats(hub, format="geojson", **period)
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = orjson.loads(geo.content)["features"]
    top = features[0]
    assert top["properties"]["incidents"] == 5 and top["properties"]["recurring"] == ["noise"]
    ring = top["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7  # a closed hexagon, lon first
    assert 2.9 < ring[0][0] < 3.1 and 43.1 < ring[0][1] < 43.3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "after"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "at most"),
        ({"category": "x" * 5000}, "category"),
        ({"sector": "mars"}, "sector"),
        ({"format": "xlsx"}, "format"),
    ],
)
async def test_bad_queries_are_refused_with_the_parameter_named(
    hub: RunningHub, params: dict[str, str], message: str
) -> None:
    response = await _stats(hub, **params)
    assert response.status_code == 400
    assert message in response.json()["message"] and len(response.text) < 300


async def test_only_consoles_read_the_statistics(hub: RunningHub) -> None:
    assert (await _stats(hub, role="citizen")).status_code == 403
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        assert (await http.get("/api/v1/stats")).status_code == 401
        bad = {"authorization": "Bearer nope"}
        assert (await http.get("/api/v1/stats", headers=bad)).status_code == 401


async def test_a_live_incident_is_counted_and_measured_in_metrics(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "alice")
    ack = await citizen.request(
        {
            "type": "alert.submit",
            "ref": "a1",
            "category": "noise",
            "lat": CENTRE[0],
            "lon": CENTRE[1],
        }
    )
    update = {"type": "incident.update", "ref": "u1", "incident": ack["incident"]}
    assert (await console.request({**update, "status": "acknowledged"}))["type"] == "ok"
    # A retried command (same ref) is not counted twice.
    assert (await console.request({**update, "status": "acknowledged"}))["type"] == "ok"
    body = (await _stats(hub)).json()
    assert body["volumes"]["incidents"] == 1 and body["stages"]["acknowledged"]["count"] == 1
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        text = (await http.get("/metrics")).text
    assert 'vigie_stage_seconds_count{tenant="narbonne",stage="acknowledged"} 1' in text
    assert 'vigie_stage_seconds_bucket{tenant="narbonne",stage="acknowledged",le="+Inf"} 1' in text


async def test_aggregates_name_nobody(hub: RunningHub) -> None:
    await _seeded(hub)
    redis = hub.node.store.redis
    names = [k async for k in redis.scan_iter(match="vg:{narbonne}:stats:*")]
    assert names
    for name in names:
        fields = await redis.hgetall(name)
        assert not any(b"past-" in f for f in fields)  # the replayed reporters' ids
