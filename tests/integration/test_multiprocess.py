"""Fan-out across processes: clients connected to different hub processes see
the same as if they shared one. First with two hubs in this event loop, then
with a real `vigie serve --workers 2`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.server.runner import RunningHub
from hub.store.keys import TenantKeys
from tests.conftest import HubFactory, RedisFactory
from tests.integration.test_cli import http_get, vigie_env, vigie_serve
from tests.wire import SECRET, Peer, connect

CENTRE = (43.1839, 3.0042)
SECTOR = h3.latlng_to_cell(*CENTRE, 7)
# Cells of the sector >= 3 rings apart: alerts there open separate incidents.
SPOTS: list[tuple[float, float]] = []
for _cell in sorted(h3.cell_to_children(SECTOR, 9)):
    if all(h3.grid_distance(_cell, h3.latlng_to_cell(*s, 9)) >= 3 for s in SPOTS):
        SPOTS.append(h3.cell_to_latlng(_cell))
PLAGE = (43.16, 3.16)
KEYS = TenantKeys("narbonne")
CITIZENS = itertools.count(1)


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory(decode_responses=True)


async def report(url: str, point: tuple[float, float], category: str = "noise") -> str:
    """A new citizen reports through `url`; returns the incident id."""
    citizen, _ = await connect(url, "citizen", f"citizen{next(CITIZENS)}")
    ack = await citizen.request(
        {"type": "alert.submit", "ref": "r", "category": category,
         "lat": point[0], "lon": point[1]}
    )  # fmt: skip
    await citizen.close()
    assert ack["type"] == "alert.ack", ack
    return str(ack["incident"])


async def with_snapshot(url: str, role: str, sub: str, **kwargs: Any) -> Peer:
    peer, _ = await connect(url, role, sub, **kwargs)
    await peer.expect("snapshot")
    return peer


async def ok(peer: Peer, message: dict[str, Any]) -> None:
    reply = await peer.request({"ref": "x", **message})
    assert reply == {"type": "ok", "ref": "x"}, reply


async def incidents(peer: Peer, count: int) -> list[str]:
    return [(await peer.expect("incident"))["incident"]["id"] for _ in range(count)]


@pytest.fixture
async def hubs(hub_factory: HubFactory) -> AsyncIterator[tuple[RunningHub, RunningHub]]:
    async with hub_factory() as a, hub_factory() as b:
        yield a, b


async def test_citizen_on_one_process_unit_and_console_on_another(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    console_a = await with_snapshot(a.ws_url, "console", "op1")
    console_b = await with_snapshot(b.ws_url, "console", "op2", codec="msgpack")
    unit_b = await with_snapshot(b.ws_url, "unit", "u1", codec="msgpack")
    await ok(unit_b, {"type": "cover", "cells": [SECTOR]})
    await report(a.ws_url, PLAGE)  # not the unit's
    ids = [await report(a.ws_url, SPOTS[0]), await report(a.ws_url, SPOTS[1])]
    ids.append(await report(b.ws_url, SPOTS[0]))  # joins the first, through the other hub
    assert ids[2] == ids[0]
    assert await incidents(unit_b, 3) == ids
    for console in (console_a, console_b):
        seen = await incidents(console, 4)
        assert seen[1:] == ids
    # The unit's status, changed on B, reaches the console on A (and the one on B).
    await ok(unit_b, {"type": "unit.status", "status": "on_scene"})
    for console in (console_a, console_b):
        status = await console.expect("unit", change="status")
        assert status["unit"]["id"] == "u1" and status["unit"]["status"] == "on_scene"
    for peer in (console_a, console_b, unit_b):
        await peer.nothing(0.2)  # nothing twice
        await peer.close()


async def test_a_unit_reconnecting_to_another_process_keeps_its_coverage(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    unit = await with_snapshot(a.ws_url, "unit", "u1")
    await ok(unit, {"type": "cover", "cells": [SECTOR]})
    await ok(unit, {"type": "unit.position", "lat": PLAGE[0], "lon": PLAGE[1]})
    await unit.close()
    unit = await with_snapshot(b.ws_url, "unit", "u1")
    ids = [await report(a.ws_url, PLAGE), await report(a.ws_url, SPOTS[2])]
    assert await incidents(unit, 2) == ids
    await unit.close()


async def test_one_unit_on_two_processes_shares_its_coverage(
    hubs: tuple[RunningHub, RunningHub], r: Redis
) -> None:
    """A unit with two devices: what one sets covers the other's session too."""
    a, b = hubs
    console = await with_snapshot(a.ws_url, "console", "op")
    tablet = await with_snapshot(a.ws_url, "unit", "u1")
    phone = await with_snapshot(b.ws_url, "unit", "u1")
    await ok(tablet, {"type": "cover", "cells": [SECTOR]})
    await console.expect("unit", change="coverage")
    incident = await report(b.ws_url, SPOTS[3])
    assert await incidents(phone, 1) == [incident]
    assert await incidents(tablet, 1) == [incident]
    # One device leaves: the unit is still online on the board.
    await phone.close()
    left = await console.expect("unit", change="offline")
    assert left["unit"]["online"] is True
    assert await r.hget(KEYS.unit("u1"), "sessions") == "1"
    await tablet.close()
    gone = await console.expect("unit", change="offline")
    assert gone["unit"]["online"] is False
    await console.close()


async def test_clearing_a_sector_reaches_the_units_other_process(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    console = await with_snapshot(a.ws_url, "console", "op")
    tablet = await with_snapshot(a.ws_url, "unit", "u1")
    phone = await with_snapshot(b.ws_url, "unit", "u1")
    await ok(tablet, {"type": "cover", "cells": [SECTOR]})
    await console.expect("unit", change="coverage")
    await ok(tablet, {"type": "cover", "cells": []})
    await console.expect("unit", change="coverage")
    await report(a.ws_url, SPOTS[4])
    await phone.nothing(0.4)
    for peer in (console, tablet, phone):
        await peer.close()


# -- a real `vigie serve --workers 2` ---------------------------------------------------


async def test_vigie_serve_with_two_workers(tmp_path: Path, redis_url: str, r: Redis) -> None:
    env = vigie_env(VIGIE_SECRET=SECRET)
    async with vigie_serve(
        "--workers", "2", "--redis-url", redis_url, "--log-level", "warning",
        cwd=tmp_path, env=env,
    ) as served:  # fmt: skip
        # Units until both workers hold some: the kernel picks the worker of each
        # connection, and the second worker may still be starting.
        units: list[Peer] = []
        nodes: dict[str, str] = {}
        for batch in range(40):
            subs = [f"u{n}" for n in range(len(units), len(units) + 3)]
            units += await asyncio.gather(
                *(with_snapshot(served.ws_url, "unit", sub) for sub in subs)
            )
            for sub in subs:
                nodes[sub] = await r.hget(KEYS.unit(sub), "node") or ""
            if len(set(nodes.values())) == 2:
                break
            await asyncio.sleep(0.1 * batch)
        assert len(set(nodes.values())) == 2, f"every connection landed on one worker: {nodes}"
        for unit in units:
            await ok(unit, {"type": "cover", "cells": [SECTOR]})
        consoles = [await with_snapshot(served.ws_url, "console", f"op{n}") for n in range(4)]
        ids = [await report(served.ws_url, SPOTS[n]) for n in range(4)]
        for peer in units + consoles:
            assert await incidents(peer, 4) == ids
        # And the other way: a unit's status reaches every console, whichever worker.
        await ok(units[-1], {"type": "unit.status", "status": "en_route"})
        for console in consoles:
            seen = await console.expect("unit", change="status")
            assert seen["unit"]["id"] == units[-1].seen[0]["sub"]
        status, health = await http_get(served.port, "/healthz")
        assert status == 200 and health["redis"] is True
        for peer in units + consoles:
            await peer.close()
    assert served.proc.returncode == 0, served.log_text()
