"""Lifecycle details: aging re-orders the queue, the HTTP incident API, retention,
auto-dispatch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from hub.core import priority
from hub.server.runner import RunningHub
from hub.server.timers import QUEUE_TOP, age_queue
from hub.store.dispatch import PIPELINE_CHUNK
from tests.integration.test_lifecycle import CENTRE, _report, _unit_covering
from tests.wire import connect, token


async def test_aging_lifts_an_old_incident_above_fresh_ones(hub: RunningHub, redis: Redis) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    old = await _report(citizen, "old", "vandalism")  # priority 3
    fresh = await _report(citizen, "fresh", "theft", at=(43.16, 3.16))  # priority 2
    forty_min_ago = int(old["at"]) - 40 * 60 * 1000
    await redis.hset(f"vg:{{narbonne}}:inc:{old['incident']}", "opened_at", forty_min_ago)
    rt = hub.node.tenants["narbonne"]
    await redis.delete("vg:{narbonne}:lock:aging")  # the hub's own loop ran at start-up
    assert await age_queue(hub.node, rt)
    queue = await console.expect("queue")
    assert [i["id"] for i in queue["incidents"]] == [old["incident"], fresh["incident"]]
    assert not await age_queue(hub.node, rt)  # this period's lock is taken: runs once
    top = await redis.zrevrange("vg:{narbonne}:open", 0, 0)
    assert top == [old["incident"].encode()]
    for peer in (console, citizen):
        await peer.close()


async def test_http_incident_api(hub: RunningHub) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "r", "noise")
    url = f"{hub.http_url}/api/v1/incidents/{ack['incident']}"
    async with httpx.AsyncClient() as http:
        ok = await http.get(url, headers={"Authorization": f"Bearer {token('console', 'op1')}"})
        assert ok.status_code == 200
        body = ok.json()
        assert body["incident"]["id"] == ack["incident"] and body["history"] == []
        assert "c1" not in ok.text  # reporters' identities are not exposed
        assert (await http.get(url)).status_code == 401
        bad = await http.get(url, headers={"Authorization": "Bearer forged.token.here"})
        assert bad.status_code == 401
        unit = await http.get(url, headers={"Authorization": f"Bearer {token('unit', 'u1')}"})
        assert unit.status_code == 403
        missing = await http.get(
            f"{hub.http_url}/api/v1/incidents/in999",
            headers={"Authorization": f"Bearer {token('console', 'op1')}"},
        )
        assert missing.status_code == 404
    await citizen.close()


async def test_closed_incident_and_its_alerts_expire_after_retention(
    hub: RunningHub, redis: Redis
) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "r", "noise")
    prefix = "vg:{narbonne}:"
    assert await redis.ttl(f"{prefix}alert:{ack['alert']}") == -1  # live: kept
    await console.request(
        {"type": "incident.update", "ref": "c", "incident": ack["incident"], "status": "closed"}
    )
    ninety_days = 90 * 86_400
    for key in (
        f"{prefix}inc:{ack['incident']}",
        f"{prefix}alert:{ack['alert']}",
        f"{prefix}inc:{ack['incident']}:history",
    ):
        assert ninety_days - 5 <= await redis.ttl(key) <= ninety_days, key
    assert await redis.zscore(f"{prefix}open", ack["incident"]) is None
    for peer in (console, citizen):
        await peer.close()


@pytest.mark.parametrize("auto", [True, False])
async def test_auto_dispatch_of_priority_one(hub_factory: Any, config: Any, auto: bool) -> None:
    narbonne = replace(config.tenants["narbonne"], auto_dispatch=auto)
    async with hub_factory(replace(config, tenants={"narbonne": narbonne})) as hub:
        unit = await _unit_covering(hub, "u1")
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        await _report(citizen, "r", "fire", at=CENTRE)
        if auto:
            offer = await unit.expect("assignment")
            assert offer["incident"]["category"] == "fire"
        else:
            later = await unit.collect(0.7)
            assert not [m for m in later if m["type"] == "assignment"]
        for peer in (unit, citizen):
            await peer.close()


async def test_aging_a_queue_longer_than_one_batch(hub: RunningHub, redis: Redis) -> None:
    """Aging reads and writes the queue batch by batch; the result is the whole queue's."""
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    now = 1_800_000_000_000
    count = 2 * PIPELINE_CHUNK + 50  # three batches
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(count):
            fields = {"priority": 1 + i % 4, "reporters": 1, "opened_at": now - i * 1000}
            pipe.hset(f"vg:{{narbonne}}:inc:q{i}", mapping={**fields, "status": "open"})
            pipe.zadd("vg:{narbonne}:open", {f"q{i}": 0})
            pipe.zadd("vg:{narbonne}:live", {f"q{i}": 0})
        # In the queue but dispatched meanwhile: read, not scored.
        pipe.hset("vg:{narbonne}:inc:gone", mapping={**fields, "status": "dispatched"})
        pipe.zadd("vg:{narbonne}:open", {"gone": 0})
        await pipe.execute()
    rt = hub.node.tenants["narbonne"]
    await redis.delete("vg:{narbonne}:lock:aging")
    assert await age_queue(hub.node, rt, now=now)
    queue = await console.expect("queue")
    assert queue["waiting"] == count
    scores = [i["score"] for i in queue["incidents"]]
    assert len(scores) == min(count, QUEUE_TOP) and scores == sorted(scores, reverse=True)
    for i in range(count):
        expected = priority.score(1 + i % 4, 1, i)
        assert await redis.zscore("vg:{narbonne}:open", f"q{i}") == pytest.approx(expected)
        assert await redis.zscore("vg:{narbonne}:live", f"q{i}") == pytest.approx(expected)
        stored = await redis.hget(f"vg:{{narbonne}}:inc:q{i}", "score")
        assert float(stored) == pytest.approx(expected)
    assert await redis.zscore("vg:{narbonne}:open", "gone") == 0
    assert await redis.zscore("vg:{narbonne}:live", "gone") is None  # XX: never added
    await console.close()
