"""Fault: Redis dies (SIGKILL) under traffic and comes back on the same port and
data directory (AOF) (issue item 5).

While Redis is away the hub keeps its sessions, /healthz is 503, commands are
answered `unavailable` with `retry_after_s` (never a false ack), and the client
library re-sends an alert with the same `ref` until it gets exactly one ack.
When Redis is back the stream followers re-follow from where they were: the
console and the unit lose nothing and see nothing twice, and every acked alert is
still in Redis.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import h3
import httpx
import pytest
from redis.asyncio import Redis

from clients import Backoff, Citizen, Console, Overflow, Unit
from hub.config import Config
from hub.core.offsets import offset_key
from hub.server import node as node_module
from hub.server.runner import running_hub
from hub.store.embedded import EmbeddedRedis
from tests.conftest import HubFactory
from tests.integration.fault_tools import (
    CENTRE,
    KEYS,
    Counted,
    Follower,
    Tally,
    eventually,
    incident_offsets,
    near,
    no_alert_limit,
    scan_keys,
    submit_counted,
    tally_stored,
)
from tests.wire import SECRET, Peer, connect, token

pytestmark = pytest.mark.slow

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
CITIZENS = 3
OUTAGE_S = 2.5
QUICK = Backoff(base_s=0.05, cap_s=0.5)


async def test_redis_killed_and_restarted_under_traffic_loses_nothing_acked(
    tmp_path: Path, config: Config
) -> None:
    server = EmbeddedRedis(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        await _scenario(server, no_alert_limit(config))
    finally:
        server.stop()


async def _scenario(server: EmbeddedRedis, config: Config) -> None:
    async with running_hub(config, server.url, SECRET) as hub, httpx.AsyncClient() as http:
        opts = {"backoff": QUICK, "overflow": Overflow.DROP_OLDEST}
        console = Counted(Console(hub.ws_url, token("console", "op1"), **opts))
        unit = Counted(Unit(hub.ws_url, token("unit", "u1"), **opts))
        await console.conn.start()
        await unit.conn.start()
        await unit.conn.cover([SECTOR])
        citizens = [
            Citizen(hub.ws_url, token("citizen", f"c{n}"), backoff=QUICK) for n in range(CITIZENS)
        ]
        for citizen in citizens:
            await citizen.start()
        raw, _ = await connect(hub.ws_url, "citizen", "raw")

        tally = Tally("redis restart")
        acks: list[dict[str, object]] = []
        retried: list[str] = []  # refs answered `unavailable` at least once, then acked
        stop = asyncio.Event()

        async def report(n: int, citizen: Citizen) -> None:
            i = 0
            while not stop.is_set():
                tally.sent += 1
                ack = await citizen.submit_alert(
                    "noise", *near(n * 100 + i), ref=f"c{n}-{i}", timeout=30
                )
                tally.acked += 1
                acks.append(ack)
                i += 1
                await asyncio.sleep(0.04)

        traffic = [asyncio.create_task(report(n, c)) for n, c in enumerate(citizens)]
        await eventually(lambda: len(acks) >= 15)
        acked_before = {a["alert"] for a in acks}

        async with Redis.from_url(server.url) as probe:
            pid = int((await probe.info("server"))["process_id"])
        os.kill(pid, signal.SIGKILL)  # no shutdown, no final fsync
        down_at = time.monotonic()
        await asyncio.to_thread(_reap, server)

        health = await http.get(f"{hub.http_url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["redis"] is False
        refused = await raw.request(
            {
                "type": "alert.submit",
                "ref": "raw-1",
                "category": "noise",
                "lat": CENTRE[0],
                "lon": CENTRE[1],
            }
        )
        assert refused["type"] == "error" and refused["code"] == "unavailable", refused
        assert refused["ref"] == "raw-1" and refused["retry_after_s"] >= 1
        # The library re-sends the same ref after retry_after_s until Redis is back.
        outage = asyncio.create_task(
            citizens[0].submit_alert("fire", *CENTRE, ref="during-outage", timeout=30)
        )
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert not outage.done()
        sessions_during_outage = len(hub.node.sessions)

        await asyncio.to_thread(server.start)  # same port, same data dir: the AOF is replayed
        back_at = time.monotonic()
        healthy = asyncio.create_task(_until_healthy(http, hub.http_url))
        async with Redis.from_url(server.url) as redis:
            lost_by_redis = acked_before - {
                k.rsplit(":", 1)[1] for k in await scan_keys(redis, KEYS.alert("*"))
            }
            single = await asyncio.wait_for(outage, 15)
            tally.sent += 1
            tally.acked += 1
            acks.append(single)
            retried.append("during-outage")
            # As the protocol asks: re-send the same ref after `unavailable` (the hub's
            # pool may still hold a connection from before the restart).
            again = await _resend_until_acked(
                raw,
                {
                    "type": "alert.submit",
                    "ref": "raw-1",
                    "category": "noise",
                    "lat": CENTRE[0],
                    "lon": CENTRE[1],
                },
            )
            assert again["type"] == "alert.ack", again
            tally.sent += 1
            tally.acked += 1
            acks.append(again)
            await eventually(lambda: len(acks) >= 40, 15)
            stop.set()
            await asyncio.gather(*traffic)
            healthy_after = await healthy - back_at

            counted = (console, unit)
            stored = await tally_stored(redis, tally, counted)
            alerts = {a["alert"] for a in acks}
            idem = await redis.get(KEYS.idempotency("c0", "during-outage"))
            sessions = (console.conn.sessions, unit.conn.sessions)
            library_dupes = console.conn.duplicates + unit.conn.duplicates
        for client in counted:
            await client.conn.close()
        for citizen in citizens:
            await citizen.close()
        await raw.close()

    assert not lost_by_redis  # SIGKILL of the process: the AOF was written (page cache)
    assert stored == alerts and len(alerts) == tally.acked  # one alert per ref, none unacked
    assert idem is not None and idem.decode() == single["alert"]
    assert sessions_during_outage == CITIZENS + 3  # the hub kept every session
    tally.check(
        outage_s=OUTAGE_S,
        acked_before_sigkill=f"{len(acked_before)}, all in Redis after the restart",
        sessions_kept=f"console {sessions[0]}, unit {sessions[1]} (1 = never reconnected)",
        retried_with_same_ref="1 ack",
        healthy_again_after_s=round(healthy_after, 2),
        duplicates_dropped_by_offset=library_dupes,
    )


async def _resend_until_acked(peer: Peer, message: dict[str, Any], tries: int = 20) -> Any:
    """Send `message`, re-sending it (same ref) after each `unavailable`; bounded."""
    for _ in range(tries):
        reply = await peer.request(message)
        if reply.get("code") != "unavailable":
            return reply
        await asyncio.sleep(min(float(reply.get("retry_after_s", 1)), 0.5))
    return reply


def _reap(server: EmbeddedRedis) -> None:
    """Collect the killed child (EmbeddedRedis.start() restarts a dead one)."""
    process = server._process
    if process is not None:
        process.wait(10)


async def _until_healthy(http: httpx.AsyncClient, url: str, timeout: float = 15.0) -> float:
    """When /healthz answered 200 again (monotonic time)."""
    async with asyncio.timeout(timeout):
        while True:
            if (await http.get(f"{url}/healthz", timeout=5)).status_code == 200:
                return time.monotonic()
            await asyncio.sleep(0.05)


async def test_a_silently_dead_stream_feed_turns_healthz_red(
    hub_factory: HubFactory, config: Config, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The subscription dies without an error: the follower reads from an offset past the
    end of the stream (what a Redis whose stream ids went backwards does to it), so every
    XREAD returns nothing, and no exception says so. Redis answers PING all along; only
    the canary, written and never read back, can tell."""
    monkeypatch.setattr(node_module, "CANARY_STALE_S", 1.5)  # 10 s in production
    tally = Tally("silently dead feed")
    async with hub_factory(no_alert_limit(config)) as hub, httpx.AsyncClient() as http:
        console = Follower(hub.ws_url, "console", "op1")
        await console.connect()  # returns once the snapshot is in (see Follower.connect)
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")

        async def report(n: int) -> None:
            await submit_counted(citizen, tally, n)

        await report(0)
        assert (await http.get(f"{hub.http_url}/healthz")).status_code == 200
        rt = hub.node.tenants["narbonne"]
        rt.read_offset = rt.canary_offset = f"{2**62}-0"  # far past the end: silence
        died_at = time.monotonic()
        for n in range(1, 4):
            await report(n)  # stored and acked, but this process no longer sees the stream
        while (health := await http.get(f"{hub.http_url}/healthz")).status_code == 200:
            assert time.monotonic() - died_at < 5, "a dead feed stayed green"
            await asyncio.sleep(0.1)
        detected_s = time.monotonic() - died_at
        assert health.json()["redis"] is True and health.json()["streams"] is False
        # The remedy is a restart (here: the feed re-anchored) and clients' resume.
        rt.read_offset = (await redis.xrevrange(KEYS.events, count=1))[0][0].decode()
        rt.canary_offset = (await redis.xrevrange(KEYS.canary, count=1))[0][0].decode()
        await console.drop()
        await console.connect()
        expected = await incident_offsets(redis)
        last = max(offset_key(o) for o in expected)
        await eventually(lambda: console.ledgers["events"].last >= last)
        await asyncio.sleep(0.2)
        tally.add_client(console.ledgers["events"], expected)
        await console.close()
        await citizen.close()
    tally.check(detected_after_s=round(detected_s, 2), canary_stale_s=1.5)
