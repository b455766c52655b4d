"""Fault: a reconnect storm (issue item 7).

5,000 citizens are connected to a `vigie serve` process; it is restarted (SIGTERM:
drained, 1012) and its successor on the same port has the default connection-rate
limit (`connect_rate = "500/1"`: 500 a second, bursts of 500). Every client comes
back at once, backing off with full jitter on 1012, refused connections and 4429;
all are admitted and resume their inbox. Meanwhile an operator acknowledges the
incidents the citizens reported before the restart: each reporter gets its
`alert.status` exactly once, live or replayed from its inbox. Measured: admitted
per second, 4429 refusals, Redis commands processed and Redis's peak CPU.

VIGIE_STORM_CLIENTS overrides the number of clients (5,000: the test takes ~25 s on
two cores, the storm itself 17-20 s, most of it the tail of the clients' backoff).
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from clients import Backoff
from tests.conftest import RedisFactory
from tests.integration.fault_tools import (
    KEYS,
    CpuSampler,
    Follower,
    StormClient,
    Tally,
    canaries,
    commands_processed,
    eventually,
    near,
    serve,
    stop_storm,
    stream_entries,
    write_config,
)
from tests.wire import connect

pytestmark = pytest.mark.slow

CLIENTS = int(os.environ.get("VIGIE_STORM_CLIENTS", "5000"))
REPORTERS = 100
CONNECT_RATE = "500/1"  # the default of [hub] connect_rate
# Full jitter, as the client library does; a 3 s cap keeps the test short (the
# library's default cap is 10 s: the same storm, spread thinner).
BACKOFF = Backoff(base_s=0.1, cap_s=3.0)


async def test_five_thousand_clients_reconnect_at_once_and_resume(
    tmp_path: Path, redis_url: str, redis_factory: RedisFactory
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2 * CLIENTS + 1000:
        pytest.skip(f"needs {2 * CLIENTS + 1000} file descriptors, the limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * CLIENTS)), hard))
    # The first process admits without a rate limit (how the clients got there is not
    # the subject); its successor has the production limit.
    unlimited = write_config(tmp_path / "before.toml", connect_rate="0", connections_per_ip=0)
    limited = write_config(tmp_path / "after.toml", connect_rate=CONNECT_RATE, connections_per_ip=0)
    # This loop runs 5,000 clients' reconnections: on a busy machine the test's own
    # Redis calls (counters, CPU samples) may wait seconds for it, longer than
    # redis-py's default 5 s timeouts. The hub's own client is not this one.
    redis = redis_factory(socket_timeout=30, socket_connect_timeout=30)
    tally = Tally(f"reconnect storm, {CLIENTS} clients")
    clients: list[StormClient] = []
    try:
        async with serve(tmp_path, redis_url, config=unlimited, limits_off=False) as first:
            port = first.port
            clients = [StormClient(port, "citizen", f"c{i}", BACKOFF) for i in range(CLIENTS)]
            for wave in range(0, CLIENTS, 250):
                for client in clients[wave : wave + 250]:
                    client.start()
                await eventually(
                    lambda w=wave: all(c.connected.is_set() for c in clients[w : w + 250]), 30
                )
            # Some of them report an incident before the restart.
            acks = []
            for i in range(REPORTERS):
                peer, _ = await connect(first.ws_url, "citizen", f"c{i}")
                tally.sent += 1
                ack = await peer.request(
                    {
                        "type": "alert.submit",
                        "ref": "r",
                        "category": "noise",
                        "lat": near(i)[0],
                        "lon": near(i)[1],
                    }
                )
                assert ack["type"] == "alert.ack", ack
                acks.append(ack)
                await peer.close()
            tally.acked = len(acks)
            first.signal(signal.SIGTERM)
            await asyncio.to_thread(first.process.wait, 30)
        assert all(c.outcomes[1012] >= 1 for c in clients)  # drained: told to reconnect
        before = sum((c.outcomes for c in clients), Counter())

        commands_before = await commands_processed(redis)
        async with CpuSampler(redis) as cpu:
            started, started_at = time.monotonic(), time.time()
            # /healthz competes with the storm for the listening socket's backlog: it
            # may answer only once most clients are in, so "up" is the first canary.
            async with serve(
                tmp_path, redis_url, config=limited, limits_off=False, port=port, healthy_timeout=60
            ) as second:
                up_s = min(t for t, pid in await canaries(redis) if pid == second.pid) - started_at
                # The operator, a client like the others in the storm, acknowledges.
                operator = Follower(second.ws_url, "console", "op1")
                await _connect_through_the_storm(operator)
                for incident in sorted({str(a["incident"]) for a in acks}):
                    reply = await operator.request(
                        {"type": "incident.update", "incident": incident, "status": "acknowledged"}
                    )
                    assert reply["type"] == "ok", reply
                await eventually(lambda: all(c.connected.is_set() for c in clients), 60, 0.1)
                storm_s = time.monotonic() - started
                commands = await commands_processed(redis) - commands_before
                await operator.close()
                reporters = clients[:REPORTERS]
                inboxes = {
                    c.sub: [
                        e.offset for e in await stream_entries(redis, KEYS.inbox("citizen", c.sub))
                    ]
                    for c in reporters
                }
                await eventually(
                    lambda: all(c.inbox.lost(inboxes[c.sub]) == 0 for c in reporters), 15
                )
                await asyncio.sleep(0.2)
                for client in reporters:
                    tally.add_client(client.inbox, inboxes[client.sub])
                await stop_storm(clients)
    finally:
        await stop_storm(clients)

    after = sum((c.outcomes for c in clients), Counter()) - before
    admitted = after["welcome"]
    assert admitted >= CLIENTS and all(c.sessions >= 2 for c in clients)
    assert all(len(inbox) >= 1 for inbox in inboxes.values())  # the acknowledgements
    tally.check(
        admitted=admitted,
        storm_s=round(storm_s, 2),
        hub_up_after_s=round(up_s, 2),
        admitted_per_s=round(CLIENTS / (storm_s - up_s)),
        refused_4429=after[4429],
        refused_connections=after["refused"],
        redis_commands=commands,
        redis_commands_per_admitted=round(commands / CLIENTS, 2),
        redis_peak_cpu_pct=round(cpu.peak, 1),
    )


async def _connect_through_the_storm(client: Follower, timeout: float = 30.0) -> None:
    """Connect like every client does: back off and retry while refused (4429)."""
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        try:
            await client.connect()
            return
        except (ConnectionClosed, OSError, TimeoutError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(BACKOFF.delay(attempt))
            attempt += 1
