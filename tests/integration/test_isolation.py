"""Isolation: a console sees only its tenant, a unit only incidents of its
coverage, a citizen only its own alerts; every message is checked against the
sender's role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.config import Config, Rate
from hub.core.messages import ROLES, allowed_roles
from hub.server.runner import RunningHub
from tests.conftest import HubFactory, RedisFactory
from tests.wire import Peer, connect

NARBONNE = (43.1839, 3.0042)
BEZIERS = (43.3442, 3.2158)


@pytest.fixture
def two_towns(config: Config) -> Config:
    """Narbonne, and Béziers next door: same settings, another area."""
    narbonne = config.tenants["narbonne"]
    beziers = replace(
        narbonne,
        id="beziers",
        name="Béziers",
        area=((43.37, 3.17), (43.37, 3.26), (43.31, 3.26), (43.31, 3.17)),
        sectors={},
    )
    return replace(config, tenants={"narbonne": narbonne, "beziers": beziers})


@pytest.fixture
async def hub(hub_factory: HubFactory, two_towns: Config) -> AsyncIterator[RunningHub]:
    async with hub_factory(two_towns) as running:
        yield running


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory(decode_responses=True)


async def submit(citizen: Peer, point: tuple[float, float], ref: str = "r") -> dict[str, Any]:
    return await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": "noise",
         "lat": point[0], "lon": point[1]}
    )  # fmt: skip


def hub_own(key: str) -> bool:
    """Keys a hub writes on its own (job locks, liveness canary), whatever clients do."""
    return ":lock:" in key or key.endswith(":canary")


async def keys_of(r: Redis, tenant: str) -> set[str]:
    """A tenant's keys, without the hub's own."""
    return {k async for k in r.scan_iter(f"vg:{{{tenant}}}:*") if not hub_own(k)}


async def domain_events(r: Redis, tenant: str) -> list[dict[str, str]]:
    entries = await r.xrange(f"vg:{{{tenant}}}:events")
    return [f for _, f in entries if f["k"] not in ("canary", "queue")]


# -- tenants ----------------------------------------------------------------------------


async def test_a_console_sees_only_its_own_town(hub: RunningHub, r: Redis) -> None:
    narbonne_console, _ = await connect(hub.ws_url, "console", "op")
    narbonne_snapshot = await narbonne_console.expect("snapshot")
    beziers_console, welcome = await connect(hub.ws_url, "console", "op", tenant="beziers")
    assert welcome["tenant"] == "beziers"
    await beziers_console.expect("snapshot")
    beziers_unit, _ = await connect(hub.ws_url, "unit", "u1", tenant="beziers")
    await beziers_console.expect("unit", change="online")
    # The same citizen id in both towns: two different people.
    in_beziers, _ = await connect(hub.ws_url, "citizen", "c1", tenant="beziers")
    in_narbonne, _ = await connect(hub.ws_url, "citizen", "c1")
    theirs = await submit(in_beziers, BEZIERS)
    ours = await submit(in_narbonne, NARBONNE)
    assert theirs["type"] == ours["type"] == "alert.ack"
    assert (await beziers_console.expect("incident"))["incident"]["id"] == theirs["incident"]
    seen = await narbonne_console.expect("incident")
    assert seen["incident"]["id"] == ours["incident"]
    await narbonne_console.nothing(0.3)
    await beziers_console.nothing(0.1)
    assert narbonne_snapshot["units"] == []
    # Each town's store holds only its own alert; snapshots agree.
    assert {k for k in await keys_of(r, "beziers") if ":alert:" in k} == {
        f"vg:{{beziers}}:alert:{theirs['alert']}"
    }
    assert {k for k in await keys_of(r, "narbonne") if ":alert:" in k} == {
        f"vg:{{narbonne}}:alert:{ours['alert']}"
    }
    fresh, _ = await connect(hub.ws_url, "console", "op2")
    snapshot = await fresh.expect("snapshot")
    assert [i["id"] for i in snapshot["incidents"]] == [ours["incident"]]
    assert snapshot["units"] == []  # Béziers' unit is not on Narbonne's board
    for peer in (narbonne_console, beziers_console, beziers_unit, in_beziers, in_narbonne, fresh):
        await peer.close()


async def test_a_token_of_another_town_cannot_touch_this_one(hub: RunningHub, r: Redis) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1", tenant="beziers")
    refused = await submit(citizen, NARBONNE)
    assert refused["type"] == "error" and refused["code"] == "out_of_area"
    unit, _ = await connect(hub.ws_url, "unit", "u1", tenant="beziers")
    await unit.expect("snapshot")
    sector = h3.latlng_to_cell(*NARBONNE, 7)
    cover = await unit.request({"type": "cover", "ref": "c", "cells": [sector]})
    assert cover["code"] == "out_of_area"
    assert await keys_of(r, "narbonne") == set()
    # A Béziers unit parked in Narbonne is not pushed Narbonne's incidents;
    # a Narbonne unit at the same spot is.
    position = {"type": "unit.position", "ref": "p", "lat": NARBONNE[0], "lon": NARBONNE[1]}
    assert (await unit.request(position))["type"] == "ok"
    local, _ = await connect(hub.ws_url, "unit", "u1")
    await local.expect("snapshot")
    assert (await local.request(position))["type"] == "ok"
    resident, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await submit(resident, NARBONNE)
    assert (await local.expect("incident"))["incident"]["id"] == ack["incident"]
    await unit.nothing(0.3)
    for peer in (citizen, unit, local, resident):
        await peer.close()


async def test_rate_limits_and_refs_are_per_town(
    hub_factory: HubFactory, two_towns: Config
) -> None:
    tenants = {k: replace(t, alert_rate_limit=Rate(1, 600)) for k, t in two_towns.tenants.items()}
    async with hub_factory(replace(two_towns, tenants=tenants)) as hub:
        here, _ = await connect(hub.ws_url, "citizen", "c1")
        there, _ = await connect(hub.ws_url, "citizen", "c1", tenant="beziers")
        first = await submit(here, NARBONNE)
        other = await submit(there, BEZIERS)  # same sub, same ref, other town
        assert other["type"] == "alert.ack" and other["alert"] == first["alert"] == "al1"
        assert other["incident"] == first["incident"]  # ids are per town...
        assert (await submit(here, NARBONNE, "r2"))["code"] == "rate_limited"
        assert (await submit(there, BEZIERS, "r2"))["code"] == "rate_limited"
        for peer in (here, there):
            await peer.close()


# -- citizens and units -----------------------------------------------------------------


async def test_a_citizen_sees_only_its_own_alerts(hub: RunningHub) -> None:
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob", codec="msgpack")
    mine = await submit(alice, NARBONNE)
    await submit(alice, NARBONNE, "r2")
    unit, _ = await connect(hub.ws_url, "unit", "u1")
    await unit.expect("snapshot")
    await unit.request({"type": "unit.status", "ref": "s", "status": "busy"})
    # Bob, in the same street, is told nothing of Alice's reports nor of the unit.
    await bob.nothing(0.3)
    assert bob.seen[0]["type"] == "welcome" and len(bob.seen) == 1
    # Bob re-using Alice's ref gets his own alert, not hers.
    his = await submit(bob, NARBONNE)
    assert his["alert"] != mine["alert"]
    assert [m["type"] for m in alice.seen] == ["welcome", "alert.ack", "alert.ack"]
    for peer in (alice, bob, unit):
        await peer.close()


async def test_units_are_not_pushed_other_units_or_uncovered_incidents(
    hub: RunningHub,
) -> None:
    u1, _ = await connect(hub.ws_url, "unit", "u1")
    await u1.expect("snapshot")
    await u1.request({"type": "cover", "ref": "c", "cells": [h3.latlng_to_cell(*NARBONNE, 7)]})
    u2, _ = await connect(hub.ws_url, "unit", "u2")
    await u2.expect("snapshot")
    await u2.request({"type": "unit.status", "ref": "s", "status": "en_route"})
    position = {"type": "unit.position", "ref": "p", "lat": 43.16, "lon": 3.16}
    await u2.request(position)
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    await submit(citizen, (43.16, 3.16))  # at u2, outside u1's sector
    await u2.expect("incident")
    await u1.nothing(0.3)
    assert [m["type"] for m in u1.seen] == ["welcome", "snapshot", "ok"]
    for peer in (u1, u2, citizen):
        await peer.close()


# -- roles ------------------------------------------------------------------------------

V1_TYPES: dict[str, dict[str, Any]] = {
    "alert.submit": {"category": "noise", "lat": NARBONNE[0], "lon": NARBONNE[1]},
    "alert.cancel": {"alert": "al1"},
    "citizen.follow": {"cells": [h3.latlng_to_cell(*NARBONNE, 9)]},
    "unit.position": {"lat": NARBONNE[0], "lon": NARBONNE[1]},
    "unit.status": {"status": "busy"},
    "cover": {"cells": [h3.latlng_to_cell(*NARBONNE, 7)]},
    "assignment.accept": {"assignment": "as1"},
    "assignment.decline": {"assignment": "as1", "reason": "busy"},
    "incident.status": {"incident": "in1", "status": "on_scene"},
    "dispatch.assign": {"incident": "in1", "unit": "u1"},
    "incident.update": {"incident": "in1", "priority": 1},
    "incident.merge": {"into": "in1", "from": ["in2"]},
    "notice": {"cells": [h3.latlng_to_cell(*NARBONNE, 9)], "text": "careful"},
    "incident.recommend": {"incident": "in1"},
    "incident.history": {"incident": "in1"},
}


@pytest.mark.parametrize("role", ROLES)
async def test_every_message_type_is_checked_against_the_role(
    hub: RunningHub, r: Redis, role: str
) -> None:
    # Something to act on, so that a missed role check would show in the store.
    citizen, _ = await connect(hub.ws_url, "citizen", "c0")
    assert (await submit(citizen, NARBONNE))["incident"] == "in1"
    assert (await submit(citizen, (43.16, 3.16), "r2"))["incident"] == "in2"
    await citizen.close()
    peer, _ = await connect(hub.ws_url, role, "someone")
    before = (await keys_of(r, "narbonne"), await domain_events(r, "narbonne"))
    forbidden = [t for t in V1_TYPES if role not in allowed_roles(t)]
    assert forbidden  # every role is refused something
    for n, msg_type in enumerate(forbidden):
        reply = await peer.request({"type": msg_type, "ref": f"f{n}", **V1_TYPES[msg_type]})
        assert reply["type"] == "error" and reply["code"] == "forbidden", (msg_type, reply)
    assert (await keys_of(r, "narbonne"), await domain_events(r, "narbonne")) == before
    assert set(V1_TYPES) == {t for t in V1_TYPES if allowed_roles(t)}  # all are v1 types
    await peer.close()
