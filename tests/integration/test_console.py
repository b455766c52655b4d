"""Consoles: a snapshot on welcome (open incidents highest priority first, the
unit board), then every incident event of the tenant and the unit events."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.server.runner import RunningHub
from hub.store.keys import TenantKeys
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
CITIZENS = itertools.count(1)


def _spread_points(count: int) -> list[tuple[float, float]]:
    """Points in town whose cells are >= 3 rings apart: their alerts never group."""
    picked: list[str] = []
    for cell in sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 10)):
        if all(h3.grid_distance(cell, p) >= 3 for p in picked):
            picked.append(cell)
    return [h3.cell_to_latlng(c) for c in picked[:count]]


SPOTS = _spread_points(12)


class Town:
    """Citizens reporting, each report from a new citizen."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.peers: list[Peer] = []

    async def report(self, point: tuple[float, float], category: str = "noise") -> str:
        """A new citizen reports; returns the incident id."""
        citizen, _ = await connect(self.url, "citizen", f"citizen{next(CITIZENS)}")
        self.peers.append(citizen)
        ack = await citizen.request(
            {"type": "alert.submit", "ref": "r", "category": category,
             "lat": point[0], "lon": point[1]}
        )  # fmt: skip
        assert ack["type"] == "alert.ack", ack
        return str(ack["incident"])

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def town(hub: RunningHub) -> AsyncIterator[Town]:
    citizens = Town(hub.ws_url)
    yield citizens
    await citizens.close()


async def console_session(url: str, **kwargs: Any) -> tuple[Peer, dict[str, Any]]:
    console, _ = await connect(url, "console", "op", **kwargs)
    return console, await console.expect("snapshot")


async def unit_session(url: str, sub: str) -> Peer:
    unit, _ = await connect(url, "unit", sub)
    await unit.expect("snapshot")
    return unit


async def ok(peer: Peer, message: dict[str, Any]) -> None:
    reply = await peer.request({"ref": "x", **message})
    assert reply == {"type": "ok", "ref": "x"}, reply


async def test_snapshot_lists_open_incidents_highest_priority_first(
    hub: RunningHub, town: Town
) -> None:
    expected = [
        await town.report(SPOTS[0], "other"),  # priority 5
        await town.report(SPOTS[1], "noise"),  # 4
        await town.report(SPOTS[2], "vandalism"),  # 3
        await town.report(SPOTS[3], "violence"),  # 1
        await town.report(SPOTS[4], "theft"),  # 2
    ]
    corroborated = await town.report(SPOTS[5], "noise")  # 4, then 3 with three reporters
    for _ in range(2):
        await town.report(SPOTS[5], "noise")
    console, snapshot = await console_session(hub.ws_url)
    incidents = snapshot["incidents"]
    assert [i["id"] for i in incidents] == [
        expected[3], expected[4], corroborated, expected[2], expected[1], expected[0],
    ]  # fmt: skip
    assert [i["priority"] for i in incidents] == [1, 2, 3, 3, 4, 5]
    scores = [i["score"] for i in incidents]
    assert scores == sorted(scores, reverse=True)
    top = incidents[0]
    assert top["category"] == "violence" and top["status"] == "open" and top["reports"] == 1
    assert top["cell"] == h3.latlng_to_cell(*SPOTS[3], 9)
    assert top["lat"] == pytest.approx(SPOTS[3][0]) and top["opened_at"] <= top["updated_at"]
    assert incidents[2]["reports"] == 3
    assert snapshot["units"] == [] and snapshot["stream"] == "events" and snapshot["offset"]
    await console.close()


async def test_snapshot_has_the_unit_board(hub: RunningHub) -> None:
    u1, u2, u3 = [await unit_session(hub.ws_url, f"u{n}") for n in (1, 2, 3)]
    await ok(u1, {"type": "unit.position", "lat": CENTRE[0], "lon": CENTRE[1]})
    await ok(u1, {"type": "unit.status", "status": "en_route"})
    await ok(u2, {"type": "unit.status", "status": "busy"})
    await ok(u3, {"type": "cover", "cells": [h3.latlng_to_cell(*CENTRE, 7)]})
    await u2.close()
    await u2.ws.wait_closed()
    console, snapshot = await console_session(hub.ws_url)
    board = {u["id"]: u for u in snapshot["units"]}
    assert [u["id"] for u in snapshot["units"]] == ["u1", "u2", "u3"]
    assert board["u1"]["online"] is True and board["u1"]["status"] == "en_route"
    assert board["u1"]["lat"] == pytest.approx(CENTRE[0])
    assert board["u1"]["lon"] == pytest.approx(CENTRE[1])
    assert board["u2"]["status"] == "busy"
    assert board["u3"]["online"] is True and board["u3"]["status"] == "available"
    assert board["u3"]["sector"] == [h3.latlng_to_cell(*CENTRE, 7)]
    assert all(isinstance(u["last_seen"], int) for u in board.values())
    # The board is a snapshot: u2 may still be closing; it must be offline next time.
    if board["u2"]["online"]:
        await console.expect("unit", change="offline")
    for peer in (console, u1, u3):
        await peer.close()
    console, snapshot = await console_session(hub.ws_url)
    assert [u["online"] for u in snapshot["units"]] == [False, False, False]
    await console.close()


async def test_a_console_gets_every_incident_of_its_tenant_once(
    hub: RunningHub, town: Town
) -> None:
    console, snapshot = await console_session(hub.ws_url, codec="msgpack")
    ids = [await town.report(point) for point in SPOTS[:6]]
    ids.append(await town.report(SPOTS[0]))  # joins the first
    seen = [await console.expect("incident") for _ in ids]
    assert [e["incident"]["id"] for e in seen] == ids
    assert [e["incident"]["reports"] for e in seen] == [1, 1, 1, 1, 1, 1, 2]
    offsets = [e["offset"] for e in seen]
    assert all(e["stream"] == "events" for e in seen)
    assert snapshot["offset"] < offsets[0] and len(set(offsets)) == len(offsets)
    await console.nothing(0.3)  # no duplicates
    await console.close()


async def test_a_resuming_console_gets_what_it_missed_without_a_snapshot(
    hub: RunningHub, town: Town
) -> None:
    console, _ = await console_session(hub.ws_url)
    first = await town.report(SPOTS[0])
    last = (await console.expect("incident"))["offset"]
    await console.close()
    missed = [await town.report(SPOTS[1]), await town.report(SPOTS[2], "theft")]
    unit = await unit_session(hub.ws_url, "u1")
    await unit.close()
    console, _ = await connect(hub.ws_url, "console", "op", resume={"events": last})
    replayed = [await console.expect("incident") for _ in missed]
    assert [e["incident"]["id"] for e in replayed] == missed
    online = await console.expect("unit", change="online")
    assert online["unit"]["id"] == "u1"
    assert not [m for m in console.seen if m["type"] in ("snapshot", "reset")]
    assert first not in [e["incident"]["id"] for e in replayed]
    await console.close()


async def test_an_unusable_resume_offset_gets_a_reset_and_a_snapshot(
    hub: RunningHub, town: Town
) -> None:
    incident = await town.report(SPOTS[0])
    console, _ = await connect(hub.ws_url, "console", "op", resume={"events": "not-an-offset"})
    reset = await console.expect("reset")
    assert reset["stream"] == "events"
    snapshot = await console.expect("snapshot")
    assert [i["id"] for i in snapshot["incidents"]] == [incident]
    await console.close()


async def assign(console: Peer, incident: str, unit: str, timeout_s: int = 30) -> dict[str, Any]:
    """Offer `incident` to `unit`; the `assignment.state` every console got of it."""
    command = {"type": "dispatch.assign", "incident": incident, "unit": unit}
    reply = await console.request(
        {"ref": f"as-{incident}-{unit}", **command, "timeout_s": timeout_s}
    )
    assert reply["type"] == "ok", reply
    live = await console.expect("assignment.state", assignment=reply["assignment"])
    assert live["state"] == "offered" and live["expires_at"] == reply["expires_at"]
    return live


def as_in_a_snapshot(live: dict[str, Any]) -> dict[str, Any]:
    """A live message without its place in the stream (a snapshot has one of its own)."""
    return {k: v for k, v in live.items() if k not in ("stream", "offset")}


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_a_console_opened_during_an_offer_has_it_in_its_snapshot(
    hub: RunningHub, town: Town, codec: str
) -> None:
    unit = await unit_session(hub.ws_url, "u1")
    incident = await town.report(SPOTS[0])
    console, snapshot = await console_session(hub.ws_url)
    assert snapshot["offers"] == []
    live = await assign(console, incident, "u1")
    reloaded, snapshot = await console_session(hub.ws_url, codec=codec)
    assert snapshot["offers"] == [as_in_a_snapshot(live)]  # the very message, expires_at and all
    assert snapshot["offers"][0]["at"] <= snapshot["offers"][0]["expires_at"] - 30_000
    again, _ = await connect(hub.ws_url, "unit", "u1", codec=codec)  # units: their inbox has it
    assert "offers" not in await again.expect("snapshot")
    accept = {"type": "assignment.accept", "assignment": live["assignment"]}
    await ok(unit, accept)
    await reloaded.expect("assignment.state", state="accepted")
    later, snapshot = await console_session(hub.ws_url, codec=codec)
    assert snapshot["offers"] == []
    assert [i["status"] for i in snapshot["incidents"]] == ["dispatched"]
    for peer in (unit, console, reloaded, again, later):
        await peer.close()


async def test_a_cancelled_offer_leaves_the_snapshot(hub: RunningHub, town: Town) -> None:
    units = [await unit_session(hub.ws_url, sub) for sub in ("u1", "u2")]
    incident = await town.report(SPOTS[0])
    console, _ = await console_session(hub.ws_url)
    first = await assign(console, incident, "u1")
    second = await assign(console, incident, "u2")  # reassigned: the first is cancelled
    _, snapshot = await console_session(hub.ws_url)
    assert snapshot["offers"] == [as_in_a_snapshot(second)]
    assert first["assignment"] != second["assignment"]
    await ok(console, {"type": "incident.update", "incident": incident, "status": "closed"})
    later, snapshot = await console_session(hub.ws_url)
    assert snapshot["offers"] == [] and snapshot["incidents"] == []
    for peer in (*units, console, later):
        await peer.close()


async def test_a_snapshot_lists_offers_soonest_first_and_skips_bad_deadlines(
    hub: RunningHub, town: Town, redis: Redis
) -> None:
    units = [await unit_session(hub.ws_url, sub) for sub in ("u1", "u2")]
    later_one, sooner_one = await town.report(SPOTS[0]), await town.report(SPOTS[1])
    console, _ = await console_session(hub.ws_url)
    later_offer = await assign(console, later_one, "u1", timeout_s=60)
    sooner_offer = await assign(console, sooner_one, "u2", timeout_s=30)
    # Deadlines without a pending offer behind them (bad data), not yet due, so the
    # deadline loop leaves them be: each is skipped, and the snapshot still comes.
    keys = TenantKeys("narbonne")
    await redis.set(keys.assignment("asg-type"), b"a string where a hash belongs")
    await redis.hset(keys.assignment("asg-ended"), mapping={"incident": later_one, "unit": "u1",
        "state": "accepted", "created_at": 1, "expires_at": 2})  # fmt: skip
    await redis.hset(keys.assignment("asg-garbage"), mapping={"incident": later_one,
        "unit": "u1", "state": "offered", "created_at": 1, "expires_at": "soon"})  # fmt: skip
    far = sooner_offer["expires_at"] + 3_600_000
    await redis.zadd(
        keys.deadlines, dict.fromkeys(("asg-ghost", "asg-type", "asg-ended", "asg-garbage"), far)
    )
    fresh, snapshot = await console_session(hub.ws_url)
    assert snapshot["offers"] == [as_in_a_snapshot(sooner_offer), as_in_a_snapshot(later_offer)]
    _, capped, _ = await hub.node.store.snapshot(keys, max_offers=1)
    assert capped["offers"] == [as_in_a_snapshot(sooner_offer)]
    _, for_a_unit, _ = await hub.node.store.snapshot(keys, max_offers=0)  # none read, not all
    assert for_a_unit["offers"] == []
    for peer in (*units, console, fresh):
        await peer.close()


async def test_a_deadlines_key_of_another_type_lists_no_offer_and_the_snapshot_still_comes(
    hub: RunningHub, town: Town, redis: Redis
) -> None:
    incident = await town.report(SPOTS[0])
    keys = TenantKeys("narbonne")
    try:
        await redis.set(keys.deadlines, b"not a zset")  # bad data; the deadline loop reports it
        console, snapshot = await console_session(hub.ws_url)
        assert snapshot["offers"] == []
        assert [i["id"] for i in snapshot["incidents"]] == [incident]
        await console.close()
    finally:
        await redis.delete(keys.deadlines)
