"""Patrol units: coverage (sector cells plus cover_k rings around the last
position) decides which incident events a unit gets — every one of its cells,
and only those; coverage survives a reconnect; consoles see unit events, with
positions throttled."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.server.runner import RunningHub
from hub.store.keys import TenantKeys
from tests.conftest import HubFactory, RedisFactory
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
CELL = h3.latlng_to_cell(*CENTRE, 9)
SECTOR = h3.latlng_to_cell(*CENTRE, 7)  # the 'centre' sector of the config
# A res-9 cell of the sector, well away from the centre's cell.
IN_SECTOR = h3.cell_to_latlng(
    next(c for c in sorted(h3.cell_to_children(SECTOR, 9)) if h3.grid_distance(c, CELL) >= 4)
)
PLAGE = (43.1600, 3.1600)  # Narbonne-Plage, outside the centre sector
PLAGE_CELL = h3.latlng_to_cell(*PLAGE, 9)
_RING1 = sorted(h3.grid_ring(PLAGE_CELL, 1))[0]
# Two rings out, on the other side: 3 rings from _RING1, so their alerts never group.
_RING2 = max(sorted(h3.grid_ring(PLAGE_CELL, 2)), key=lambda c: h3.grid_distance(c, _RING1))
PLAGE_RING1, PLAGE_RING2 = h3.cell_to_latlng(_RING1), h3.cell_to_latlng(_RING2)
KEYS = TenantKeys("narbonne")
CITIZENS = itertools.count(1)  # a new citizen id for every report, across hubs


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory(decode_responses=True)


class Town:
    """Citizens reporting (a fresh citizen every few alerts: the rate limit is per citizen)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.peers: list[Peer] = []

    async def report(
        self, point: tuple[float, float], category: str = "noise", text: str = ""
    ) -> dict[str, Any]:
        """A new citizen reports at `point`; returns the ack."""
        citizen, _ = await connect(self.url, "citizen", f"citizen{next(CITIZENS)}")
        self.peers.append(citizen)
        ack = await citizen.request(
            {"type": "alert.submit", "ref": "r", "category": category,
             "lat": point[0], "lon": point[1], "text": text}
        )  # fmt: skip
        assert ack["type"] == "alert.ack", ack
        return ack

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def town(hub: RunningHub) -> AsyncIterator[Town]:
    citizens = Town(hub.ws_url)
    yield citizens
    await citizens.close()


async def unit_session(url: str, sub: str, **kwargs: Any) -> tuple[Peer, dict[str, Any]]:
    """Connect a unit; returns (peer, its welcome snapshot)."""
    unit, _ = await connect(url, "unit", sub, **kwargs)
    return unit, await unit.expect("snapshot")


async def ok(peer: Peer, message: dict[str, Any]) -> None:
    reply = await peer.request({"ref": "x", **message})
    assert reply == {"type": "ok", "ref": "x"}, reply


async def next_incident(unit: Peer) -> dict[str, Any]:
    event = await unit.expect("incident")
    assert event["stream"] == "events" and event["offset"]
    incident: dict[str, Any] = event["incident"]
    return incident


# -- coverage ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_a_unit_gets_the_incidents_of_its_sector_and_only_those(
    hub: RunningHub, town: Town, codec: str
) -> None:
    unit, snapshot = await unit_session(hub.ws_url, "u1", codec=codec)
    assert snapshot["incidents"] == [] and snapshot["units"] == []
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    await town.report(PLAGE)  # not covered: must not arrive
    inside = await town.report(IN_SECTOR, text="one")
    assert (await next_incident(unit))["id"] == inside["incident"]
    # A changed incident (a second report joins it) is pushed again.
    await town.report(PLAGE)
    await town.report(IN_SECTOR, text="two")
    joined = await next_incident(unit)
    assert (joined["id"], joined["reports"], joined["text"]) == (inside["incident"], 2, "two")
    await town.report(PLAGE_RING1)
    await unit.nothing(0.3)
    await unit.close()


async def test_a_unit_covers_cover_k_rings_around_its_position(hub: RunningHub, town: Town) -> None:
    assert hub.node.config.tenants["narbonne"].cover_k == 1
    unit, _ = await unit_session(hub.ws_url, "u1")
    await ok(unit, {"type": "unit.position", "lat": PLAGE[0], "lon": PLAGE[1]})
    await town.report(PLAGE_RING2)  # two rings away: not covered
    await town.report(CENTRE)
    here = await town.report(PLAGE)
    assert (await next_incident(unit))["id"] == here["incident"]
    await town.report(PLAGE_RING2, category="theft")
    ring1 = await town.report(PLAGE_RING1, category="vandalism")
    assert (await next_incident(unit))["id"] == ring1["incident"]
    # It drives to the centre: the beach is no longer covered, the centre is.
    await ok(unit, {"type": "unit.position", "lat": CENTRE[0], "lon": CENTRE[1]})
    await town.report(PLAGE, category="fire")
    centre = await town.report(CENTRE, category="fire")
    assert (await next_incident(unit))["id"] == centre["incident"]
    await unit.nothing(0.3)
    await unit.close()


async def test_sector_and_position_add_up(hub: RunningHub, town: Town) -> None:
    unit, _ = await unit_session(hub.ws_url, "u1")
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    await ok(unit, {"type": "unit.position", "lat": PLAGE[0], "lon": PLAGE[1]})
    a = await town.report(IN_SECTOR)
    b = await town.report(PLAGE_RING1)
    assert [(await next_incident(unit))["id"] for _ in range(2)] == [a["incident"], b["incident"]]
    await unit.close()


async def test_cover_replaces_the_sector_at_any_resolution(hub: RunningHub, town: Town) -> None:
    unit, _ = await unit_session(hub.ws_url, "u1")
    plage_res8 = h3.latlng_to_cell(*PLAGE, 8)
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    await ok(unit, {"type": "cover", "cells": [plage_res8, CELL]})  # res 8 and res 9
    await town.report(IN_SECTOR)  # the old sector: no longer covered
    beach = await town.report(PLAGE)
    centre = await town.report(CENTRE)
    assert [(await next_incident(unit))["id"] for _ in range(2)] == [
        beach["incident"],
        centre["incident"],
    ]
    await ok(unit, {"type": "cover", "cells": []})  # no sector at all
    await town.report(PLAGE, category="theft")
    await unit.nothing(0.3)
    await unit.close()


async def test_coverage_is_restored_from_redis_on_reconnect(
    hub_factory: HubFactory, r: Redis
) -> None:
    async with hub_factory() as hub:
        town = Town(hub.ws_url)
        unit, _ = await unit_session(hub.ws_url, "u1")
        await ok(unit, {"type": "cover", "cells": [SECTOR]})
        await ok(unit, {"type": "unit.position", "lat": PLAGE[0], "lon": PLAGE[1]})
        await unit.close()
        # While it is away: one incident it covers, one it does not.
        covered = await town.report(IN_SECTOR)
        await town.report(h3.cell_to_latlng(h3.latlng_to_cell(43.2050, 3.0100, 9)))  # nord
        await town.close()
    async with hub_factory() as hub:  # another process, or this one restarted
        town = Town(hub.ws_url)
        unit, snapshot = await unit_session(hub.ws_url, "u1")
        assert [i["id"] for i in snapshot["incidents"]] == [covered["incident"]]
        assert snapshot["units"] == []  # units get no unit board
        # Covered from its hello on, without sending cover or a position again.
        await town.report(PLAGE_RING2)
        near = await town.report(PLAGE_RING1)
        assert (await next_incident(unit))["id"] == near["incident"]
        await town.report(PLAGE_RING2, category="theft")
        inside = await town.report(IN_SECTOR, category="theft")
        assert (await next_incident(unit))["id"] == inside["incident"]
        saved = await r.hgetall(KEYS.unit("u1"))
        assert saved["sector"] == f'["{SECTOR}"]' and saved["cell"] == PLAGE_CELL
        await unit.close()
        await town.close()


async def test_a_resuming_unit_gets_the_missed_incidents_of_its_cells(
    hub: RunningHub, town: Town
) -> None:
    unit, snapshot = await unit_session(hub.ws_url, "u1")
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    first = await town.report(CENTRE)
    last_offset = (await unit.expect("incident"))["offset"]
    assert last_offset > snapshot["offset"]
    await unit.close()
    missed = [await town.report(IN_SECTOR), await town.report(PLAGE), await town.report(CENTRE)]
    unit, _ = await connect(hub.ws_url, "unit", "u1", resume={"events": last_offset})
    replayed = [await unit.expect("incident") for _ in range(2)]
    assert [e["incident"]["id"] for e in replayed] == [missed[0]["incident"], first["incident"]]
    assert replayed[1]["incident"]["reports"] == 2
    assert replayed[0]["offset"] < replayed[1]["offset"]
    assert not [m for m in unit.seen if m["type"] in ("snapshot", "reset")]
    live = await town.report(IN_SECTOR, category="theft")
    assert (await next_incident(unit))["id"] == live["incident"]
    await unit.close()


# -- unit events for consoles -----------------------------------------------------------


async def console_session(url: str) -> Peer:
    console, _ = await connect(url, "console", "op")
    await console.expect("snapshot")
    return console


async def unit_events(console: Peer, within: float) -> list[dict[str, Any]]:
    """The `unit` events a console gets within `within` seconds."""
    out: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (left := deadline - loop.time()) > 0:
        try:
            message = await console.recv(left)
        except TimeoutError:
            break
        if message["type"] == "unit":
            out.append(message)
    return out


async def test_consoles_see_a_unit_come_and_go(hub: RunningHub, r: Redis) -> None:
    console = await console_session(hub.ws_url)
    unit, _ = await unit_session(hub.ws_url, "u1")
    online = await console.expect("unit", change="online")
    assert online["unit"]["id"] == "u1" and online["unit"]["online"] is True
    assert online["unit"]["status"] == "available"  # a new unit starts available
    assert online["stream"] == "events" and online["offset"]
    await ok(unit, {"type": "unit.status", "status": "en_route"})
    status = await console.expect("unit", change="status")
    assert status["unit"]["status"] == "en_route"
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    coverage = await console.expect("unit", change="coverage")
    assert coverage["unit"]["sector"] == [SECTOR]
    await unit.close()
    offline = await console.expect("unit", change="offline")
    assert offline["unit"]["online"] is False and offline["unit"]["status"] == "en_route"
    # The status is remembered across sessions too.
    unit, _ = await unit_session(hub.ws_url, "u1")
    back = await console.expect("unit", change="online")
    assert back["unit"]["status"] == "en_route" and back["unit"]["sector"] == [SECTOR]
    await unit.close()
    await console.close()


async def test_positions_in_one_cell_are_throttled_to_one_per_second(
    hub: RunningHub, r: Redis
) -> None:
    console = await console_session(hub.ws_url)
    unit, _ = await unit_session(hub.ws_url, "u1")
    await console.expect("unit", change="online")
    lat, lon = h3.cell_to_latlng(CELL)
    await ok(unit, {"type": "unit.position", "lat": lat, "lon": lon})  # sent, arms the throttle
    assert len(await unit_events(console, 0.1)) == 1
    loop = asyncio.get_running_loop()
    armed = loop.time()
    for n in range(1, 8):
        await ok(unit, {"type": "unit.position", "lat": lat + n * 1e-5, "lon": lon})
    assert await unit_events(console, max(0.0, 0.85 - (loop.time() - armed))) == []
    # The state is saved even when the event is held back.
    assert float(await r.hget(KEYS.unit("u1"), "lat") or 0) == pytest.approx(lat + 7e-5)
    await asyncio.sleep(0.2)  # a second after the last event: the next fix is sent
    await ok(unit, {"type": "unit.position", "lat": lat, "lon": lon})
    (event,) = await unit_events(console, 0.3)
    assert event["change"] == "position" and event["unit"]["lat"] == pytest.approx(lat)
    assert "offset" not in event  # positions are state, not history
    await unit.close()
    await console.close()


async def test_at_most_one_position_per_second_after_a_cell_change(hub: RunningHub) -> None:
    console = await console_session(hub.ws_url)
    unit, _ = await unit_session(hub.ws_url, "u1")
    await console.expect("unit", change="online")
    lat, lon = h3.cell_to_latlng(CELL)
    for n in range(5):
        await ok(unit, {"type": "unit.position", "lat": lat + n * 1e-5, "lon": lon})
    assert len(await unit_events(console, 0.5)) == 1
    await unit.close()
    await console.close()


async def test_a_position_in_another_cell_is_never_throttled(hub: RunningHub) -> None:
    console = await console_session(hub.ws_url)
    unit, _ = await unit_session(hub.ws_url, "u1")
    await console.expect("unit", change="online")
    path = [CELL, *sorted(h3.grid_ring(CELL, 1))[:3]]
    for cell in path:
        lat, lon = h3.cell_to_latlng(cell)
        await ok(unit, {"type": "unit.position", "lat": lat, "lon": lon})
    events = await unit_events(console, 0.4)
    assert [e["unit"]["cell"] for e in events] == path
    assert all(e["change"] == "position" for e in events)
    await unit.close()
    await console.close()


# -- heartbeats -------------------------------------------------------------------------


async def test_a_silent_peer_is_dropped_after_two_heartbeats(
    hub_factory: HubFactory, r: Redis
) -> None:
    async with hub_factory(heartbeat_s=0.2) as hub:
        console = await console_session(hub.ws_url)
        unit, welcome = await unit_session(hub.ws_url, "u1")
        assert welcome["type"] == "snapshot"
        assert unit.seen[0]["heartbeat_s"] == 0.2
        await console.expect("unit", change="online")
        await asyncio.sleep(0.5)  # answering pings: still there
        assert (await unit.request({"type": "unit.status", "ref": "s", "status": "busy"}))[
            "type"
        ] == "ok"
        unit.ws.transport.pause_reading()  # type: ignore[attr-defined]  # no more pongs
        offline = await console.expect("unit", timeout=2.0, change="offline")
        assert offline["unit"]["id"] == "u1" and offline["unit"]["online"] is False
        assert await r.hget(KEYS.unit("u1"), "sessions") == "0"
        assert [s.role for s in hub.node.sessions.values()] == ["console"]
        unit.ws.transport.abort()  # type: ignore[attr-defined]
        await console.close()
