"""The acked writes of one event-loop turn go to Redis in one pipeline
(hub.store.replication), also without replicas; a server that lost its scripts
(SCRIPT FLUSH, as after a restart) gets them loaded and the writes sent again."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from hub.config import Config
from hub.server.runner import running_hub
from tests.integration.fault_tools import KEYS, near, no_alert_limit, scan_keys
from tests.wire import SECRET, connect

CITIZENS = 30


def _submit(ref: str, n: int) -> dict[str, object]:
    lat, lon = near(n)
    return {"type": "alert.submit", "ref": ref, "category": "noise", "lat": lat, "lon": lon}


async def test_submits_of_one_turn_share_a_pipeline_and_survive_a_script_flush(
    redis_url: str, config: Config
) -> None:
    redis = Redis.from_url(redis_url)
    async with running_hub(no_alert_limit(config), redis_url, SECRET) as hub:
        acks = hub.node.store.acks
        assert acks.required == 0  # one server, no replica: no WAIT
        citizens = [(await connect(hub.ws_url, "citizen", f"c{i}"))[0] for i in range(CITIZENS)]
        for round_ in range(2):
            if round_ == 1:
                await redis.script_flush()  # the server forgets every script
            before = acks.pipelines, acks.piped
            # Each frame is sent at once, the replies awaited together: the hub reads
            # them in few turns, so its submits share pipelines.
            replies = await asyncio.gather(
                *(c.request(_submit(f"r{round_}", i)) for i, c in enumerate(citizens))
            )
            assert [r["type"] for r in replies] == ["alert.ack"] * CITIZENS, replies
            pipelines, piped = acks.pipelines - before[0], acks.piped - before[1]
            assert piped >= CITIZENS  # every submit went through a pipeline
            assert pipelines < CITIZENS, (pipelines, piped)  # some shared one
            if round_ == 1:  # the first pipeline heard NOSCRIPT: its writes went again
                assert piped > CITIZENS, piped
        for c in citizens:
            await c.close()
        alerts = await scan_keys(redis, KEYS.alert("*"))
    await redis.aclose()
    assert len(alerts) == 2 * CITIZENS  # each stored once, the flushed round included
