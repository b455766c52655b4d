"""Fault: a console's or a unit's connection drops mid-stream, at random moments,
while citizens keep reporting; each reconnects with `hello.resume` and must end
with every incident event of the Redis stream, once (issue items 1 and 2)."""

from __future__ import annotations

import asyncio
import random
import time

import h3
from redis.asyncio import Redis

from clients import Backoff, Console, Overflow
from hub.config import Config
from hub.core.offsets import offset_key
from tests.conftest import HubFactory
from tests.integration.fault_tools import (
    CENTRE,
    KEYS,
    Follower,
    Ledger,
    Tally,
    eventually,
    incident_offsets,
    near,
    no_alert_limit,
    stream_entries,
)
from tests.wire import connect, token

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
CITIZENS = 4
ALERTS_EACH = 40
DROPS_EACH = 10


async def test_consoles_and_units_dropped_mid_stream_resume_without_loss(
    hub_factory: HubFactory, config: Config, redis: Redis
) -> None:
    rng = random.Random(20240611)
    started = time.monotonic()
    async with hub_factory(no_alert_limit(config)) as hub:
        raw_console = Follower(hub.ws_url, "console", "op-raw", "json")
        raw_unit = Follower(hub.ws_url, "unit", "u-raw", "msgpack")
        await raw_console.connect()
        await raw_unit.connect()
        assert (await raw_unit.request({"type": "cover", "cells": [SECTOR]}))["type"] == "ok"
        # The client library's console: it notices the drop by itself and resumes.
        lib_ledger = Ledger()
        lib = Console(
            hub.ws_url,
            token("console", "op-lib"),
            backoff=Backoff(0.02, 0.1),
            overflow=Overflow.DROP_OLDEST,
        )  # only the listener counts
        lib.add_listener(lambda m: m["type"] == "incident" and lib_ledger.offer(m))
        await lib.start()

        tally = Tally("client drop mid-stream")
        acks: list[dict[str, object]] = []

        async def citizen(n: int) -> None:
            peer, _ = await connect(hub.ws_url, "citizen", f"c{n}")
            for i in range(ALERTS_EACH):
                lat, lon = near(n * ALERTS_EACH + i)
                tally.sent += 1
                ack = await peer.request(
                    {
                        "type": "alert.submit",
                        "ref": f"c{n}-{i}",
                        "category": "noise",
                        "lat": lat,
                        "lon": lon,
                        "text": f"report {i} of c{n}",
                    }
                )
                assert ack["type"] == "alert.ack", ack
                acks.append(ack)
                await asyncio.sleep(rng.random() * 0.004)
            await peer.close()

        async def dropper(follower: Follower) -> None:
            for _ in range(DROPS_EACH):
                await asyncio.sleep(rng.uniform(0.01, 0.08))
                await follower.drop()
                await asyncio.sleep(rng.uniform(0.0, 0.03))  # events keep coming meanwhile
                await follower.connect()

        async def drop_library_console() -> None:
            for _ in range(DROPS_EACH):
                await asyncio.sleep(rng.uniform(0.01, 0.08))
                await eventually(lambda: lib.connected, 5)
                session = lib._session  # the current WebSocket: cut it, no close frame
                assert session is not None
                session.ws.transport.abort()

        await asyncio.gather(
            *(citizen(n) for n in range(CITIZENS)),
            dropper(raw_console),
            dropper(raw_unit),
            drop_library_console(),
        )

        expected = await incident_offsets(redis)
        in_sector = {
            e.offset
            for e in await stream_entries(redis)
            if e.kind == "incident" and e.cell and h3.cell_to_parent(e.cell, 7) == SECTOR
        }
        last = max(offset_key(o) for o in expected)
        await eventually(
            lambda: all(
                ledger.last >= last
                for ledger in (
                    raw_console.ledgers["events"],
                    raw_unit.ledgers["events"],
                    lib_ledger,
                )
            )
        )
        await asyncio.sleep(0.2)  # room for a late duplicate to show up
        alerts = {a["alert"] for a in acks}
        stored = sum([await redis.exists(KEYS.alert(a)) for a in alerts])

        tally.acked = len(acks)
        tally.add_client(raw_console.ledgers["events"], expected)
        tally.add_client(raw_unit.ledgers["events"], in_sector)
        tally.add_client(lib_ledger, expected)
        elapsed = time.monotonic() - started
        dedupe_dropped = (
            raw_console.ledgers["events"].dropped
            + raw_unit.ledgers["events"].dropped
            + lib.duplicates
        )
        lib_sessions = lib.sessions
        await lib.close()
        await raw_console.close()
        await raw_unit.close()

    assert tally.acked == tally.sent == len(alerts) == stored == len(expected)
    assert len(in_sector) == len(expected)  # every report was in the unit's sector
    assert raw_console.sessions == raw_unit.sessions == DROPS_EACH + 1
    assert lib_sessions == DROPS_EACH + 1
    tally.check(
        drops=3 * DROPS_EACH,
        duplicates_dropped_by_offset=dedupe_dropped,
        seconds=round(elapsed, 2),
    )
