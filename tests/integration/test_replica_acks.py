"""`ack_replicas`: an ack waits for `WAIT` to count a replica (hub.store.replication).

A real primary and a real replica (`--replicaof`), no Sentinel: the replica is
frozen with SIGSTOP, which keeps its link open (the primary still counts it
online) while it acknowledges nothing, so every WAIT times out. Meanwhile no
write is acked (`unavailable`, retry with the same ref), a retry that finds
the first attempt's idempotency record waits again and is refused again, and
once the replica is thawed the retries get the first attempt's reply, once.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from hub.config import Config
from hub.server.runner import running_hub
from hub.store.embedded import EmbeddedRedis
from tests.integration.fault_tools import KEYS, near, no_alert_limit, scan_keys
from tests.wire import SECRET, Peer, connect

TIMEOUT_MS = 200


@pytest.fixture
def primary_and_replica(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis]]:
    fast_sync = ("--repl-diskless-sync-delay", "0")  # 5 s by default: a test waits for it
    primary = EmbeddedRedis(tmp_path / "primary", extra_args=fast_sync)
    primary.start()
    replica = EmbeddedRedis(
        tmp_path / "replica",
        extra_args=(*fast_sync, "--replicaof", "127.0.0.1", str(primary.port)),
    )
    try:
        replica.start()
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def _submit(ref: str, n: int = 0) -> dict[str, Any]:
    lat, lon = near(n)
    return {"type": "alert.submit", "ref": ref, "category": "noise", "lat": lat, "lon": lon}


async def _until_synced(primary: Redis) -> None:
    """Until the primary lists its replica `online` (full sync done), at most 10 s."""
    for _ in range(200):
        replica = (await primary.info("replication")).get("slave0")
        if isinstance(replica, dict) and replica.get("state") == "online":
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the replica never came online")


async def test_no_ack_until_a_replica_has_the_write_and_a_retry_waits_again(
    primary_and_replica: tuple[EmbeddedRedis, EmbeddedRedis], config: Config
) -> None:
    primary, replica = primary_and_replica
    async with Redis.from_url(primary.url) as redis:
        await _until_synced(redis)
        cfg = no_alert_limit(config)
        cfg = replace(cfg, hub=replace(cfg.hub, ack_replicas=None, ack_timeout_ms=TIMEOUT_MS))
        async with running_hub(cfg, primary.url, SECRET) as hub:
            acks = hub.node.store.acks
            assert (acks.replicas_online, acks.required) == (1, 1)  # "auto" found the replica
            citizen, _ = await connect(hub.ws_url, "citizen", "c1")
            console, _ = await connect(hub.ws_url, "console", "op1")
            unit, _ = await connect(hub.ws_url, "unit", "u1")
            # Even with the replica up, a WAIT may time out (a slow fsync on a loaded
            # machine): `unavailable` is always a legal answer, so retry as clients do.
            first = await _until_acked(citizen, _submit("r1"))
            assert first["type"] == "alert.ack", first
            waits_before = acks.batches

            os.kill(replica._process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            try:
                frozen = await _while_frozen(hub.node, redis, citizen, console, first["incident"])
            finally:
                os.kill(replica._process.pid, signal.SIGCONT)  # type: ignore[union-attr]

            again = await _until_acked(citizen, _submit("r2", 1))
            assert again["type"] == "alert.ack" and again["alert"] == frozen["stored_alert"]
            assigned = await _until_acked(console, frozen["assign"])
            assert assigned["type"] == "ok" and assigned["assignment"] == frozen["assignment"]
            alerts = await scan_keys(redis, KEYS.alert("*"))
            assignments = await scan_keys(redis, KEYS.assignment("*"))
            for peer in (citizen, console, unit):
                await peer.close()
            timeouts, waits = acks.timeouts, acks.batches - waits_before
    assert len(alerts) == 2 and len(assignments) == 1  # each write stored once
    print(
        f"\n[replica acks] WAIT {TIMEOUT_MS} ms: {timeouts} WAIT timeouts in all, "
        f"{frozen['refused']} commands refused unavailable; {waits} WAITs after it"
    )


async def _while_frozen(
    node: Any, redis: Redis, citizen: Peer, console: Peer, incident: str
) -> dict[str, Any]:
    """What the hub answers while the replica acknowledges nothing."""
    refused = await citizen.request(_submit("r2", 1))
    assert refused["type"] == "error" and refused["code"] == "unavailable", refused
    assert "replica" in refused["message"] and refused["retry_after_s"] >= 1
    # The write is on the primary, not acked: its idempotency record is there...
    stored = await redis.get(KEYS.idempotency("c1", "r2"))
    assert stored is not None
    # ...and the retry that finds it must wait again: still no ack. On a fresh
    # connection (as after any reconnect), whose WAIT has no write of its own
    # to wait for but the fence: without it, WAIT would return at once.
    await node.store.redis.connection_pool.disconnect()
    retried = await citizen.request(_submit("r2", 1))
    assert retried["type"] == "error" and retried["code"] == "unavailable", retried
    # Lifecycle commands ack too: the same rule.
    assign = {"type": "dispatch.assign", "ref": "as1", "incident": incident, "unit": "u1"}
    refused_assign = await console.request(assign)
    assert refused_assign["code"] == "unavailable", refused_assign
    record = await redis.get(KEYS.command_reply("DispatchAssign", "op1", "as1"))
    assert node.store.acks.timeouts >= 3
    return {
        "stored_alert": stored.decode(),
        "assign": assign,
        "assignment": _assignment_of(record),
        "refused": 3,
    }


def _assignment_of(record: bytes | None) -> str | None:
    """The assignment id in a stored command reply, if the key layout is the one we think."""
    if record is None:
        return None
    reply = orjson.loads(record)
    return str(reply[1]) if isinstance(reply, list) and len(reply) > 1 else None


async def _until_acked(peer: Peer, message: dict[str, Any], tries: int = 20) -> dict[str, Any]:
    """Re-send `message` (same ref) after each `unavailable`; bounded."""
    for _ in range(tries):
        reply = await peer.request(message)
        if reply.get("code") != "unavailable":
            return reply
        await asyncio.sleep(0.1)
    return reply


async def test_the_writes_of_one_tick_share_one_wait(
    primary_and_replica: tuple[EmbeddedRedis, EmbeddedRedis], config: Config
) -> None:
    """40 citizens submit at once: 40 acks, and fewer WAITs than writes (batched)."""
    primary, _ = primary_and_replica
    async with Redis.from_url(primary.url) as redis:
        await _until_synced(redis)
    cfg = no_alert_limit(config)
    cfg = replace(cfg, hub=replace(cfg.hub, ack_replicas=1))
    async with running_hub(cfg, primary.url, SECRET) as hub:
        acks = hub.node.store.acks
        citizens = [(await connect(hub.ws_url, "citizen", f"c{n}"))[0] for n in range(40)]
        for rounds in range(3):
            replies = await asyncio.gather(
                *(_until_acked(c, _submit(f"r{rounds}", n)) for n, c in enumerate(citizens))
            )
            assert all(r["type"] == "alert.ack" for r in replies), replies
        for citizen in citizens:
            await citizen.close()
        writes, batches, timeouts = acks.writes, acks.batches, acks.timeouts
    assert writes >= 120 and batches <= writes  # a retry after a slow WAIT is a write too
    print(
        f"\n[replica acks] 120 acked submits from 40 sessions: {writes} writes "
        f"in {batches} WAITs ({timeouts} timed out)"
    )
