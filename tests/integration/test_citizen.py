"""Citizens: alert.submit is validated, stored before its ack, idempotent by
(citizen, ref), rate-limited per citizen, grouped into incidents, and
corroborated by distinct reporters."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.config import Config, Rate, load_config
from hub.server.runner import RunningHub
from hub.store.keys import TenantKeys
from tests.conftest import HubFactory, RedisFactory
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
CELL = h3.latlng_to_cell(*CENTRE, 9)
NEIGHBOUR = h3.cell_to_latlng(sorted(h3.grid_ring(CELL, 1))[0])  # 1 ring away
TWO_RINGS = h3.cell_to_latlng(sorted(h3.grid_ring(CELL, 2))[0])
FAR = (43.1600, 3.1600)  # Narbonne-Plage
KEYS = TenantKeys("narbonne")


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory(decode_responses=True)


def with_tenant(config: Config, **changes: Any) -> Config:
    """The config with Narbonne's tenant settings changed."""
    narbonne = replace(config.tenants["narbonne"], **changes)
    return replace(config, tenants={**config.tenants, "narbonne": narbonne})


async def report(
    citizen: Peer,
    ref: str,
    category: str = "noise",
    point: tuple[float, float] = CENTRE,
    text: str = "",
) -> dict[str, Any]:
    """Submit an alert and return the answer (an alert.ack or an error)."""
    return await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": category,
         "lat": point[0], "lon": point[1], "text": text}
    )  # fmt: skip


async def alerts_stored(r: Redis) -> int:
    return len([k async for k in r.scan_iter(f"{KEYS.prefix}alert:*")])


async def events(r: Redis) -> list[tuple[str, dict[str, str]]]:
    """The tenant stream's entries, without those the hub writes on its own."""
    return [e for e in await r.xrange(KEYS.events) if e[1]["k"] not in ("canary", "queue")]


# -- storage and ack --------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_alert_is_stored_before_its_ack(hub: RunningHub, r: Redis, codec: str) -> None:
    citizen, welcome = await connect(hub.ws_url, "citizen", "c1", codec=codec)
    assert welcome["role"] == "citizen" and welcome["tenant"] == "narbonne"
    before_ms = time.time_ns() // 1_000_000
    await citizen.send(
        {"type": "alert.submit", "ref": "r1", "category": "burglary", "lat": CENTRE[0],
         "lon": CENTRE[1], "text": "window broken", "accuracy_m": 15}
    )  # fmt: skip
    ack = await citizen.expect("alert.ack")
    # Read the instant the ack arrives: the alert, its incident and its event are there.
    alert = await r.hgetall(KEYS.alert(ack["alert"]))
    incident = await r.hgetall(KEYS.incident(ack["incident"]))
    entries = await events(r)
    assert ack["ref"] == "r1" and ack["status"] == "received"
    assert before_ms <= ack["at"] <= time.time_ns() // 1_000_000
    assert alert["citizen"] == "c1" and alert["ref"] == "r1" and alert["status"] == "received"
    assert alert["category"] == "burglary" and alert["text"] == "window broken"
    assert float(alert["lat"]) == CENTRE[0] and float(alert["accuracy_m"]) == 15
    assert alert["cell"] == CELL and alert["incident"] == ack["incident"]
    assert incident["status"] == "open" and incident["cell"] == CELL
    assert incident["priority"] == "1" and incident["reports"] == "1"  # burglary's base
    assert await r.zscore(KEYS.open_queue, ack["incident"]) is not None
    assert [f["k"] for _, f in entries][:1] == ["incident"]
    await citizen.close()


# -- idempotency ------------------------------------------------------------------------


async def test_resubmitting_a_ref_returns_the_same_ack(hub: RunningHub, r: Redis) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await report(citizen, "r1", text="first")
    before = await events(r)
    assert await report(citizen, "r1", text="first") == ack
    # The first submission wins, even if the retry says something else.
    assert await report(citizen, "r1", category="fire", point=FAR, text="other") == ack
    await citizen.close()
    # Another session, another codec: still the same alert.
    again, _ = await connect(hub.ws_url, "citizen", "c1", codec="msgpack")
    assert await report(again, "r1") == ack
    assert await alerts_stored(r) == 1
    assert await events(r) == before
    incident = await r.hgetall(KEYS.incident(ack["incident"]))
    assert incident["reports"] == "1" and incident["text"] == "first"
    assert incident["category"] == "noise"
    # The same ref from another citizen is another alert.
    other, _ = await connect(hub.ws_url, "citizen", "c2")
    theirs = await report(other, "r1")
    assert theirs["alert"] != ack["alert"] and theirs["incident"] == ack["incident"]
    assert await alerts_stored(r) == 2
    for peer in (again, other):
        await peer.close()


async def test_idempotency_holds_across_hub_processes(hub_factory: HubFactory) -> None:
    async with hub_factory() as a, hub_factory() as b:
        on_a, _ = await connect(a.ws_url, "citizen", "c1")
        on_b, _ = await connect(b.ws_url, "citizen", "c1")
        ack = await report(on_a, "r1")
        assert await report(on_b, "r1") == ack
        for peer in (on_a, on_b):
            await peer.close()


# -- rate limit -------------------------------------------------------------------------


async def test_alert_rate_limit_per_citizen(
    hub_factory: HubFactory, config: Config, r: Redis
) -> None:
    cfg = with_tenant(config, alert_rate_limit=Rate(2, 600.0))
    async with hub_factory(cfg) as a, hub_factory(cfg) as b:
        citizen, _ = await connect(a.ws_url, "citizen", "c1")
        first = await report(citizen, "r1")
        await report(citizen, "r2", point=FAR)
        before = await events(r)
        refused = await report(citizen, "r3")
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert refused["ref"] == "r3"
        assert 590 <= refused["retry_after_s"] <= 600
        assert await alerts_stored(r) == 2 and await events(r) == before
        # A retry of an acked ref is still answered while limited.
        assert await report(citizen, "r1") == first
        # The limit is the citizen's, in Redis: another process refuses it too...
        elsewhere, _ = await connect(b.ws_url, "citizen", "c1")
        assert (await report(elsewhere, "r4"))["code"] == "rate_limited"
        # ...while another citizen is not limited.
        neighbour, _ = await connect(b.ws_url, "citizen", "c2")
        assert (await report(neighbour, "r3"))["type"] == "alert.ack"
        for peer in (citizen, elsewhere, neighbour):
            await peer.close()


async def test_alert_rate_limit_window_slides(hub_factory: HubFactory, config: Config) -> None:
    async with hub_factory(with_tenant(config, alert_rate_limit=Rate(1, 0.6))) as hub:
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        assert (await report(citizen, "r1"))["type"] == "alert.ack"
        refused = await report(citizen, "r2")
        assert refused["code"] == "rate_limited" and refused["retry_after_s"] == 1
        await citizen.nothing(0.7)  # wait out the window
        assert (await report(citizen, "r2"))["type"] == "alert.ack"
        await citizen.close()


async def test_default_alert_rate_is_5_per_10_minutes(hub: RunningHub) -> None:
    assert hub.node.config.tenants["narbonne"].alert_rate_limit == Rate(5, 600.0)
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    for n in range(5):
        assert (await report(citizen, f"r{n}"))["type"] == "alert.ack"
    refused = await report(citizen, "r5")
    assert refused["code"] == "rate_limited" and refused["retry_after_s"] >= 590
    await citizen.close()


async def test_vigie_alert_rate_limit_overrides_the_config(hub_factory: HubFactory) -> None:
    cfg = load_config(env={"VIGIE_ALERT_RATE_LIMIT": "1/60"})
    async with hub_factory(cfg) as hub:
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        assert (await report(citizen, "r1"))["type"] == "alert.ack"
        refused = await report(citizen, "r2")
        assert refused["code"] == "rate_limited" and 55 <= refused["retry_after_s"] <= 60
        await citizen.close()


async def test_vigie_limits_off_lifts_the_alert_rate(hub_factory: HubFactory) -> None:
    async with hub_factory(load_config(env={"VIGIE_LIMITS": "off"})) as hub:
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        for n in range(8):
            assert (await report(citizen, f"r{n}"))["type"] == "alert.ack"
        await citizen.close()


# -- grouping ---------------------------------------------------------------------------


async def test_same_category_nearby_joins_the_open_incident(hub: RunningHub, r: Redis) -> None:
    console, _ = await connect(hub.ws_url, "console", "op")
    await console.expect("snapshot")
    citizens = [(await connect(hub.ws_url, "citizen", f"c{n}"))[0] for n in range(3)]
    first = await report(citizens[0], "r", text="music")
    opened = (await console.expect("incident"))["incident"]
    assert (opened["id"], opened["reports"], opened["status"]) == (first["incident"], 1, "open")
    same_cell = await report(citizens[1], "r", text="still music")
    next_cell = await report(citizens[2], "r", point=NEIGHBOUR)
    assert same_cell["incident"] == next_cell["incident"] == first["incident"]
    joined = [(await console.expect("incident"))["incident"] for _ in range(2)]
    assert [i["reports"] for i in joined] == [2, 3]
    assert joined[0]["text"] == "still music" and joined[1]["text"] == "still music"
    assert joined[1]["cell"] == CELL  # the incident stays where it was opened
    assert await r.zcard(KEYS.open_queue) == 1
    for peer in (console, *citizens):
        await peer.close()


async def test_other_category_or_further_away_opens_a_new_incident(hub: RunningHub) -> None:
    citizens = [(await connect(hub.ws_url, "citizen", f"c{n}"))[0] for n in range(4)]
    first = await report(citizens[0], "r")
    other_category = await report(citizens[1], "r", category="vandalism")
    two_rings = await report(citizens[2], "r", point=TWO_RINGS)
    far = await report(citizens[3], "r", point=FAR)
    ids = [a["incident"] for a in (first, other_category, two_rings, far)]
    assert len(set(ids)) == 4
    for peer in citizens:
        await peer.close()


async def test_group_k_is_read_from_the_config(hub_factory: HubFactory, config: Config) -> None:
    async with hub_factory(with_tenant(config, group_k=2)) as hub:
        one, _ = await connect(hub.ws_url, "citizen", "c1")
        two, _ = await connect(hub.ws_url, "citizen", "c2")
        first = await report(one, "r")
        assert (await report(two, "r", point=TWO_RINGS))["incident"] == first["incident"]
        for peer in (one, two):
            await peer.close()


async def test_an_incident_quiet_for_longer_than_the_window_is_not_joined(
    hub: RunningHub, r: Redis
) -> None:
    window_ms = hub.node.config.tenants["narbonne"].group_window_s * 1000
    one, _ = await connect(hub.ws_url, "citizen", "c1")
    two, _ = await connect(hub.ws_url, "citizen", "c2")
    three, _ = await connect(hub.ws_url, "citizen", "c3")
    first = await report(one, "r")
    member = f"noise|{first['incident']}"
    now_ms = time.time_ns() // 1_000_000
    # Its last report was a little less than a window ago: still joined.
    await r.zadd(KEYS.cell(CELL), {member: now_ms - window_ms + 60_000})
    assert (await report(two, "r"))["incident"] == first["incident"]
    # Its last report was a little more than a window ago: a new incident opens.
    await r.zadd(KEYS.cell(CELL), {member: now_ms - window_ms - 60_000})
    late = await report(three, "r")
    assert late["incident"] != first["incident"]
    assert await r.zcard(KEYS.open_queue) == 2
    for peer in (one, two, three):
        await peer.close()


async def test_a_tiny_window_from_the_config_splits_incidents(
    hub_factory: HubFactory, config: Config
) -> None:
    async with hub_factory(with_tenant(config, group_window_s=1)) as hub:
        one, _ = await connect(hub.ws_url, "citizen", "c1")
        two, _ = await connect(hub.ws_url, "citizen", "c2")
        first = await report(one, "r")
        await one.nothing(1.1)
        assert (await report(two, "r"))["incident"] != first["incident"]
        for peer in (one, two):
            await peer.close()


# -- corroboration ----------------------------------------------------------------------


async def test_three_distinct_reporters_raise_the_priority(hub: RunningHub, r: Redis) -> None:
    console, _ = await connect(hub.ws_url, "console", "op")
    await console.expect("snapshot")
    seen: list[dict[str, Any]] = []
    for n in range(6):
        citizen, _ = await connect(hub.ws_url, "citizen", f"c{n}")
        await report(citizen, "r")
        seen.append((await console.expect("incident"))["incident"])
        await citizen.close()
    # noise is priority 4: one step at 3 distinct reporters, one more at 6.
    assert [i["priority"] for i in seen] == [4, 4, 3, 3, 3, 2]
    assert [i["reports"] for i in seen] == [1, 2, 3, 4, 5, 6]
    scores = [i["score"] for i in seen]
    assert scores == sorted(scores) and len(set(scores)) == 6
    stored = await r.hgetall(KEYS.incident(seen[-1]["id"]))
    assert stored["priority"] == "2" and stored["reporters"] == "6"
    assert await r.zscore(KEYS.open_queue, seen[-1]["id"]) == seen[-1]["score"]
    await console.close()


async def test_one_citizen_reporting_again_does_not_corroborate(hub: RunningHub, r: Redis) -> None:
    console, _ = await connect(hub.ws_url, "console", "op")
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    for n in range(4):
        await report(citizen, f"r{n}", point=NEIGHBOUR if n % 2 else CENTRE)
    seen = [(await console.expect("incident"))["incident"] for _ in range(4)]
    assert len({i["id"] for i in seen}) == 1
    assert [i["reports"] for i in seen] == [1, 2, 3, 4]
    assert [i["priority"] for i in seen] == [4, 4, 4, 4]
    assert len({i["score"] for i in seen}) == 1
    assert (await r.hgetall(KEYS.incident(seen[0]["id"])))["reporters"] == "1"
    for peer in (console, citizen):
        await peer.close()
