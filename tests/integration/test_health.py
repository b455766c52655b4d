"""Health and metrics: /healthz checks Redis *and* that the stream feed is alive."""

from __future__ import annotations

import asyncio
from pathlib import Path

import h3
import httpx
from redis.asyncio import Redis

from hub.config import Config
from hub.server import node as node_module
from hub.server.drain import drain
from hub.server.runner import RunningHub, running_hub
from hub.store.embedded import EmbeddedRedis
from tests.wire import SECRET, connect, open_peer, token


async def test_healthz_ok_and_metrics(hub: RunningHub) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    async with httpx.AsyncClient() as http:
        await asyncio.sleep(node_module.CANARY_PERIOD_S + 0.2)  # one canary round trip
        health = await http.get(f"{hub.http_url}/healthz")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["redis"] and body["streams"] and body["sessions"]["citizen"] == 1
        metrics = (await http.get(f"{hub.http_url}/metrics")).text
    assert 'vigie_sessions{role="citizen"} 1' in metrics
    assert "# TYPE vigie_canary_lag_ms gauge" in metrics
    await citizen.close()


async def test_healthz_unhealthy_while_redis_is_away(tmp_path: Path, config: Config) -> None:
    redis = EmbeddedRedis(tmp_path, appendonly=False)
    redis.start()
    async with running_hub(config, redis.url, SECRET) as hub, httpx.AsyncClient() as http:
        assert (await http.get(f"{hub.http_url}/healthz")).status_code == 200
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        # A reply means the session's opening (its sync, which reads Redis) is over:
        # stopped before it, the opening fails and closes it 1013, as for the newcomer.
        cell = h3.latlng_to_cell(43.1839, 3.0042, 9)
        assert (await citizen.request({"type": "citizen.follow", "ref": "f", "cells": [cell]}))[
            "type"
        ] == "ok"
        redis.stop()
        down = await http.get(f"{hub.http_url}/healthz", timeout=10)
        assert down.status_code == 503 and down.json()["redis"] is False
        newcomer = await open_peer(hub.ws_url)  # can't be brought up to date: 1013
        await newcomer.send({"type": "hello", "token": token("citizen", "c2")})
        await asyncio.wait_for(newcomer.ws.wait_closed(), 10)
        assert newcomer.ws.close_code == 1013
        reply = await citizen.request(
            {"type": "alert.submit", "ref": "r", "category": "noise", "lat": 43.1839, "lon": 3.0042}
        )
        assert reply["type"] == "error" and reply["code"] == "unavailable"
        assert reply["retry_after_s"] >= 1  # retryable, and never a false ack
        redis.start()
        retried = await citizen.request(
            {"type": "alert.submit", "ref": "r", "category": "noise", "lat": 43.1839, "lon": 3.0042}
        )
        assert retried["type"] == "alert.ack"
        await citizen.close()
    redis.stop()


async def test_drain_closes_sessions_with_1012_and_refuses_new_ones(hub: RunningHub) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    assert await drain(hub.node, timeout_s=1.0) == 1
    await asyncio.wait_for(citizen.ws.wait_closed(), 5)
    assert citizen.ws.close_code == 1012
    late = await open_peer(hub.ws_url)
    await late.send({"type": "hello", "token": token("citizen", "c2")})
    await asyncio.wait_for(late.ws.wait_closed(), 5)
    assert late.ws.close_code == 1012


async def test_a_peer_still_sending_at_exit_reads_1012_not_a_reset(
    redis_url: str, config: Config, redis: Redis
) -> None:
    """A hub exiting while a peer's frames wait unread must not reset the connection.

    While a message's handler waits on Redis (paused here), the hub reads no more
    of that socket, so what the citizen sends meanwhile stays in the kernel.
    Closing the socket then makes the kernel answer with RST, and a peer that
    reads the reset first loses the close frame: 1006, as a rolling restart's
    reporting citizens saw. The hub sends 1012, reads on, and closes after the
    peer's answer.
    """
    async with running_hub(config, redis_url, SECRET) as hub:
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        await redis.execute_command("CLIENT", "PAUSE", 1500, "WRITE")  # the handler waits
        alert = {"type": "alert.submit", "category": "noise", "lat": 43.1839, "lon": 3.0042}
        await citizen.send({**alert, "ref": "first"})
        await asyncio.sleep(0.2)  # its handler runs, reading is paused
        for i in range(50):  # unread by the hub: in the kernel when it exits
            await citizen.send({**alert, "ref": f"r{i}", "text": "x" * 500})
        await asyncio.sleep(0.2)
    await asyncio.wait_for(citizen.ws.wait_closed(), 10)
    assert citizen.ws.close_code == 1012
