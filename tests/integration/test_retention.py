"""Retention per kind of record, run now by `vigie purge` and hourly by the hub:
what is past its period goes, what is live or within its period stays."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import orjson
from redis.asyncio import Redis

from hub.config import Config
from hub.server.runner import RunningHub
from tests.conftest import HubFactory
from tests.integration.test_cli import run_vigie, vigie_env
from tests.wire import connect

CENTRE = (43.1839, 3.0042)
ELSEWHERE = (43.1550, 3.0000)
DAY_MS = 86_400_000
T = "vg:{narbonne}:"


async def test_vigie_purge_removes_what_is_past_its_period_and_keeps_the_rest(
    hub: RunningHub, redis_url: str, redis: Redis
) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    zoe, _ = await connect(hub.ws_url, "citizen", "zoe")
    acks = {}
    for ref, category, at in (("old", "noise", CENTRE), ("recent", "theft", CENTRE),
                              ("live", "fire", ELSEWHERE)):  # fmt: skip
        acks[ref] = await zoe.request(
            {"type": "alert.submit", "ref": ref, "category": category, "lat": at[0], "lon": at[1]}
        )
    for ref in ("old", "recent"):
        closed = await console.request(
            {"type": "incident.update", "ref": f"c-{ref}", "incident": acks[ref]["incident"],
             "status": "closed"}
        )  # fmt: skip
        assert closed["type"] == "ok", closed
    await zoe.close()
    await console.close()

    now = int(time.time() * 1000)
    old = acks["old"]["incident"]
    await redis.hset(f"{T}inc:{old}", "closed_at", now - 100 * DAY_MS)  # closed 100 days ago
    await redis.zadd(f"{T}open311", {"al-old": now - 100 * DAY_MS, "al-new": now})
    unit = {"id": "u9", "status": "off_duty", "lat": "43.18", "lon": "3.0", "last_seen": 1000}
    await redis.hset(f"{T}unit:u9", mapping=unit)
    await redis.sadd(f"{T}units", "u9")
    await redis.xadd(f"{T}inbox:citizen:yann", {"k": "alert.status", "d": "{}"}, id="1000-1")
    await redis.xadd(f"{T}erasures", {"d": "{}"}, id="1000-1")
    await redis.xadd(f"{T}erasures", {"d": "{}"})

    code, out, err = await run_vigie("purge", env=vigie_env(VIGIE_REDIS_URL=redis_url))
    assert code == 0, err
    (summary,) = orjson.loads(out)
    assert summary["tenant"] == "narbonne"
    assert (summary["incidents"], summary["incidents_kept"]) == (1, 1)
    assert (summary["open311"], summary["unit_positions"]) == (1, 1)
    assert (summary["inbox_entries"], summary["erasure_log"]) == (1, 1)

    for suffix in ("", ":alerts", ":reporters", ":history"):
        assert not await redis.exists(f"{T}inc:{old}{suffix}"), suffix
    assert not await redis.exists(f"{T}alert:{acks['old']['alert']}")
    recent, live = acks["recent"], acks["live"]
    assert 89 * 86_400 < await redis.ttl(f"{T}inc:{recent['incident']}") <= 90 * 86_400
    assert 89 * 86_400 < await redis.ttl(f"{T}alert:{recent['alert']}") <= 90 * 86_400
    assert await redis.hget(f"{T}inc:{live['incident']}", "status") == b"open"
    assert await redis.ttl(f"{T}inc:{live['incident']}") == -1  # live: no expiry
    assert await redis.exists(f"{T}alert:{live['alert']}")
    assert await redis.zrange(f"{T}open311", 0, -1) == [b"al-new"]
    assert await redis.hmget(f"{T}unit:u9", "lat", "status") == [None, b"off_duty"]
    assert await redis.xlen(f"{T}erasures") == 1

    code, out, _ = await run_vigie("purge", env=vigie_env(VIGIE_REDIS_URL=redis_url))
    assert code == 0 and orjson.loads(out)[0]["incidents"] == 0  # idempotent


async def test_the_hub_trims_the_event_stream_by_age(hub_factory: HubFactory, redis: Redis) -> None:
    await redis.xadd(f"{T}events", {"k": "unit", "d": '{"lat": 43.1}'}, id="1000-1")
    fresh = await redis.xadd(f"{T}events", {"k": "unit", "d": '{"lat": 43.2}'})
    async with hub_factory():
        for _ in range(100):  # the retention job runs at start, then hourly
            if await redis.xlen(f"{T}events") == 1:
                break
            await asyncio.sleep(0.05)
        (first,) = await redis.xrange(f"{T}events", count=1)
        assert first[0] == fresh


async def test_vigie_purge_of_an_unknown_tenant_is_refused(redis_url: str) -> None:
    code, _, err = await run_vigie(
        "purge", "--tenant", "atlantis", env=vigie_env(VIGIE_REDIS_URL=redis_url)
    )
    assert code == 2 and "not served" in err


async def test_each_kind_expires_on_its_own_clock(
    hub_factory: HubFactory, redis: Redis, config: Config
) -> None:
    """A trail kept longer than its incident, inboxes shorter: the expiries set when
    the incident closes and when an inbox is written follow `[retention]`."""
    town = config.tenants["narbonne"]
    periods = replace(town.retention, incidents_days=30, audit_days=365, inbox_days=10)
    custom = replace(config, tenants={"narbonne": replace(town, retention=periods)})
    async with hub_factory(custom) as hub:
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        zoe, _ = await connect(hub.ws_url, "citizen", "zoe")
        ack = await zoe.request({"type": "alert.submit", "ref": "a", "category": "noise",
                                 "lat": CENTRE[0], "lon": CENTRE[1]})  # fmt: skip
        close = {"type": "incident.update", "ref": "c", "incident": ack["incident"]}
        closed = await console.request({**close, "status": "closed"})
        assert closed["type"] == "ok"
        await zoe.expect("alert.status", status="resolved")
        for peer in (console, zoe):
            await peer.close()
    incident = f"{T}inc:{ack['incident']}"
    assert 29 * 86_400 < await redis.ttl(incident) <= 30 * 86_400
    assert 29 * 86_400 < await redis.ttl(f"{T}alert:{ack['alert']}") <= 30 * 86_400
    assert 364 * 86_400 < await redis.ttl(f"{incident}:history") <= 365 * 86_400
    assert 9 * 86_400 < await redis.ttl(f"{T}inbox:citizen:zoe") <= 10 * 86_400
