"""The acked writes of one event-loop turn go to Redis in one pipeline
(hub.store.replication), also without replicas; a server that lost its scripts
(SCRIPT FLUSH, as after a restart) gets them loaded and the writes sent again."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from redis.asyncio import Redis

from hub.config import Config
from hub.server.runner import running_hub
from hub.store.client import redis_client
from hub.store.replication import AckPolicy, ReplicaAcks
from tests.integration.fault_tools import KEYS, near, no_alert_limit, scan_keys
from tests.wire import SECRET, connect

CITIZENS = 30
INCR = "return redis.call('INCR', KEYS[1])"
FAIL = "return redis.error_reply('ERR refused by the script')"


def _submit(ref: str, n: int) -> dict[str, object]:
    lat, lon = near(n)
    return {"type": "alert.submit", "ref": ref, "category": "noise", "lat": lat, "lon": lon}


async def test_submits_of_one_turn_share_a_pipeline(
    redis_url: str, redis: Redis, config: Config
) -> None:
    async with running_hub(no_alert_limit(config), redis_url, SECRET) as hub:
        acks = hub.node.store.acks
        assert acks.required == 0  # one server, no replica: no WAIT
        citizens = [(await connect(hub.ws_url, "citizen", f"c{i}"))[0] for i in range(CITIZENS)]
        warm = await citizens[0].request(_submit("warm", 0))  # Redis has the script since
        assert warm["type"] == "alert.ack", warm
        turns, writes = acks.turns, acks.turn_writes
        # Every frame is sent at once and the replies awaited together: the hub
        # reads several in one turn, and their submits share a pipeline.
        replies = await asyncio.gather(
            *(c.request(_submit("r", i)) for i, c in enumerate(citizens))
        )
        assert [r["type"] for r in replies] == ["alert.ack"] * CITIZENS, replies
        turns, writes = acks.turns - turns, acks.turn_writes - writes
        assert writes == CITIZENS and turns < CITIZENS, (turns, writes)
        assert acks.reloads == 0
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{hub.http_url}/metrics")).text
        assert f"vigie_write_turn_writes_total {acks.turn_writes}" in text
        assert f"vigie_write_turns_total {acks.turns}" in text
        for c in citizens:
            await c.close()
        alerts = await scan_keys(redis, KEYS.alert("*"))
    assert len(alerts) == CITIZENS + 1  # each stored once


async def test_a_turn_after_a_script_flush_loads_the_script_and_runs_each_write_once(
    redis_url: str,
) -> None:
    async with contextlib.aclosing(redis_client(redis_url)) as redis:
        acks = ReplicaAcks(redis, AckPolicy(fixed=0))
        incr, fail = redis.register_script(INCR), redis.register_script(FAIL)
        assert await acks.run(incr, ["n"], [], "fence") == 1  # a lone write: one plain call
        await redis.script_flush()  # the server forgets every script, as after a restart
        replies = await asyncio.gather(
            acks.run(fail, ["n"], [], "fence"),  # none in flight: a plain call at once
            *(acks.run(incr, ["n"], [], "fence") for _ in range(10)),  # the rest: one pipeline
            return_exceptions=True,
        )
        assert "refused by the script" in str(replies[0])  # one script's error is its own
        assert sorted(replies[1:]) == list(range(2, 12))  # each ran once, after the load
        # The pipeline's ten were loaded and sent again; the plain call reloads by itself.
        assert acks.reloads == 10 and acks.turns == 3  # the lone call, then the turn's two
        assert int(await redis.get("n")) == 11
