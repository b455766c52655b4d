"""Fault: graceful shutdown and deploys (issue item 6).

* `vigie serve --workers 2` gets SIGHUP while traffic flows: uvicorn's supervisor
  starts a new worker, then SIGTERMs an old one, twice. Each old worker drains
  (outboxes flushed, sessions closed 1012); its clients reconnect to a serving
  worker and resume. Nothing is lost, and no client sees 1006.
* A single `vigie serve` gets SIGTERM: its clients see 1012 (not 1006), it exits;
  a new one on the same port takes them back, and they resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import h3
import pytest
from redis.asyncio import Redis

from clients import Backoff, Citizen, Console, Overflow, Unit
from tests.integration.fault_tools import (
    CENTRE,
    Counted,
    Tally,
    eventually,
    join_tasks,
    near,
    serve,
    tally_stored,
    wait_workers_serving,
)
from tests.wire import token

pytestmark = pytest.mark.slow

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
QUICK = Backoff(base_s=0.05, cap_s=0.5)
DRAINED = {1001, 1012}  # the documented "reconnect elsewhere" codes


class Crowd:
    """Consoles and units that count, and citizens that report until told to stop."""

    def __init__(self, url: str, consoles: int = 2, units: int = 2, citizens: int = 3) -> None:
        opts = {"backoff": QUICK, "overflow": Overflow.DROP_OLDEST}
        self.counted = [
            Counted(Console(url, token("console", f"op{i}"), **opts)) for i in range(consoles)
        ]
        self.counted += [Counted(Unit(url, token("unit", f"u{i}"), **opts)) for i in range(units)]
        self.citizens = [
            Citizen(url, token("citizen", f"c{i}"), backoff=QUICK) for i in range(citizens)
        ]
        self.acks: list[dict[str, object]] = []
        self.sent = 0
        self._stop = asyncio.Event()
        self._traffic: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.gather(
            *(c.conn.start() for c in self.counted), *(c.start() for c in self.citizens)
        )
        for client in self.counted:
            if isinstance(client.conn, Unit):
                await client.conn.cover([SECTOR])
        self._traffic = [
            asyncio.create_task(self._report(n, c)) for n, c in enumerate(self.citizens)
        ]

    async def _report(self, n: int, citizen: Citizen) -> None:
        i = 0
        while not self._stop.is_set():
            self.sent += 1
            ack = await citizen.submit_alert(
                "noise", *near(n * 500 + i), ref=f"c{n}-{i}", timeout=30
            )
            self.acks.append(ack)
            i += 1
            await asyncio.sleep(0.03)

    async def stop_traffic(self) -> None:
        """Let the reports in flight finish (each waits 30 s at most for its ack)."""
        self._stop.set()
        await join_tasks(self._traffic, 35)

    def session_closes(self) -> Counter[int]:
        """How sessions ended (failed connection attempts, None, left out)."""
        conns = [c.conn for c in self.counted] + list(self.citizens)
        return Counter(code for conn in conns for code in conn.close_codes if code is not None)

    async def settle_and_count(self, redis: Redis, tally: Tally) -> dict[str, object]:
        """Wait until everyone has the whole stream, then count against Redis."""
        stored = await tally_stored(redis, tally, self.counted, settle_s=0.3)
        tally.sent, tally.acked = self.sent, len(self.acks)
        alerts = {a["alert"] for a in self.acks}
        assert stored == alerts and len(alerts) == tally.acked == tally.sent
        return {
            "closes": dict(self.session_closes()),
            "duplicates_dropped_by_offset": sum(c.conn.duplicates for c in self.counted),
        }

    async def close(self) -> None:
        for client in self.counted:
            await client.conn.close()
        for citizen in self.citizens:
            await citizen.close()


@contextlib.asynccontextmanager
async def crowd_on(url: str) -> AsyncIterator[Crowd]:
    crowd = Crowd(url)
    await crowd.start()
    try:
        yield crowd
    finally:
        await crowd.stop_traffic()
        await crowd.close()


async def test_sighup_rolling_restart_of_two_workers_loses_nothing(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    tally = Tally("rolling restart")
    async with serve(tmp_path, redis_url, workers=2) as hub, crowd_on(hub.ws_url) as crowd:
        old = set(hub.workers())
        await eventually(lambda: len(crowd.acks) >= 10)
        started = time.monotonic()
        hub.signal(signal.SIGHUP)
        retries = 0
        while old & set(hub.workers()):
            # uvicorn gives a new worker 5 s to be ready, else keeps the old one and aborts
            # the restart: on a loaded machine, ask again (this test is about our drain).
            if hub.log_text().count("aborting the restart") > retries and retries < 2:
                retries += 1
                hub.signal(signal.SIGHUP)
            await asyncio.sleep(0.1)
            assert time.monotonic() - started < 40, hub.log_text()
        new = await wait_workers_serving(hub, redis_url, 2)
        restart_s = time.monotonic() - started
        assert not old & set(new)
        acked_during = len(crowd.acks)
        await eventually(lambda: len(crowd.acks) >= acked_during + 10)
        await crowd.stop_traffic()
        figures = await crowd.settle_and_count(redis, tally)
        closes = crowd.session_closes()
    assert closes and set(closes) <= DRAINED, closes  # drained: never 1006
    tally.check(restart_s=round(restart_s, 2), sighup_retries=retries, **figures)


async def test_sigterm_drains_a_single_process_and_its_successor_resumes_everyone(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    tally = Tally("sigterm and restart")
    async with serve(tmp_path, redis_url) as first:
        port = first.port
        crowd = Crowd(first.ws_url)
        await crowd.start()
        await eventually(lambda: len(crowd.acks) >= 10)
        started = time.monotonic()
        first.signal(signal.SIGTERM)
        await asyncio.to_thread(first.process.wait, 15)
        exit_s = time.monotonic() - started
        closes_at_shutdown = crowd.session_closes()
        everyone_told = all(
            conn.close_codes and conn.close_codes[0] == 1012
            for conn in [*(c.conn for c in crowd.counted), *crowd.citizens]
        )
        exit_status = first.process.returncode
    try:
        async with serve(tmp_path, redis_url, port=port):  # the deploy's new version
            await eventually(lambda: all(c.conn.connected for c in crowd.counted), 15)
            acked = len(crowd.acks)
            await eventually(lambda: len(crowd.acks) >= acked + 10, 15)
            await crowd.stop_traffic()
            figures = await crowd.settle_and_count(redis, tally)
    finally:
        await crowd.stop_traffic()
        await crowd.close()
    # Every session was closed 1012 first, never 1006. Those that came back while the
    # process was draining were turned away with 1012 — or, when the process exited in
    # the middle of turning one away, saw the connection end (1006): a reconnect attempt
    # to a dying process, not a session lost (docs/guarantees.md, graceful stop).
    assert everyone_told and closes_at_shutdown[1012] > 0, closes_at_shutdown
    assert set(closes_at_shutdown) <= {1012, 1006}, closes_at_shutdown
    assert exit_status in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    tally.check(exit_s=round(exit_s, 2), **figures)
