"""Fault: a background loop that cannot go on takes its process down, sessions first.

A process whose follower or timers died must not keep serving sessions it no
longer feeds (uvicorn itself only logs a lifespan that fails after start-up).
The loop's errors are counted in /metrics while it retries; after six in a row
every session is closed with 1011, /healthz says so, and `vigie serve` exits
with 70, so that clients resume elsewhere and a supervisor restarts it; a
worker of `--workers 2` is restarted by uvicorn and serves again once the data
is repaired.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from hub.config import Config
from hub.core.supervision import EXIT_LOOP_FAILED
from hub.server import timers
from hub.server.node import Node, TenantRuntime
from hub.server.runner import running_hub
from tests.integration.fault_tools import (
    KEYS,
    eventually,
    serve,
    wait_healthy,
    wait_workers_serving,
)
from tests.wire import SECRET, connect, open_peer, token

pytestmark = pytest.mark.slow


async def _loop_errors(http_url: str, loop: str) -> int:
    """vigie_loop_errors_total of `loop` (fault="error"), 0 when not served."""
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{http_url}/metrics", timeout=2)).text
        prefix = f'vigie_loop_errors_total{{loop="{loop}",tenant="narbonne",fault="error"}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return int(line.removeprefix(prefix))
    return 0


async def _close_code(peer: object, timeout: float) -> int | None:
    ws = peer.ws  # type: ignore[attr-defined]
    await asyncio.wait_for(ws.wait_closed(), timeout)
    code: int | None = ws.close_code
    return code


async def test_a_loop_that_keeps_failing_closes_sessions_1011_and_exits_70(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    async with serve(tmp_path, redis_url) as hub:
        console, _ = await connect(hub.ws_url, "console", "op1")
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        # The deadlines zset overwritten by a string: every poll fails with WRONGTYPE,
        # a state no record skip can get round.
        await redis.set(KEYS.deadlines, b"not a zset")
        started = time.monotonic()
        await eventually(lambda: hub.process.poll() is None, 1)
        counted = 0
        async with asyncio.timeout(10):
            while counted == 0:
                counted = await _loop_errors(hub.http_url, "deadlines")
                await asyncio.sleep(0.05)
        codes = await asyncio.gather(_close_code(console, 20), _close_code(citizen, 20))
        await eventually(lambda: hub.process.poll() is not None, 25, 0.05)
        took = time.monotonic() - started
        status = hub.process.returncode
        log = hub.log_text()
        print(
            f"\n[loop exit] errors seen in /metrics {counted}; sessions closed {codes}; "
            f"exit status {status} after {took:.1f} s",
            flush=True,
        )
        assert codes == [1011, 1011], codes
        assert status == EXIT_LOOP_FAILED, log[-3000:]
        assert "deadlines for narbonne failed 6 times in a row" in log, log[-3000:]
    await redis.delete(KEYS.deadlines)


async def test_a_worker_whose_loop_fails_is_restarted_and_serves_once_repaired(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    async with serve(tmp_path, redis_url, workers=2) as hub:
        before = set(hub.workers())
        unit, _ = await connect(hub.ws_url, "unit", "u1")
        await redis.set(KEYS.deadlines, b"not a zset")
        assert await _close_code(unit, 20) == 1011
        await eventually(lambda: not (set(hub.workers()) & before), 30, 0.1)  # both replaced
        await redis.delete(KEYS.deadlines)  # the operator repairs the data
        await wait_healthy(hub.http_url, 30)
        await wait_workers_serving(hub, redis_url, 2)
        settled = set(hub.workers())
        assert not settled & before, (before, settled)
        await asyncio.sleep(8)  # longer than six errors in a row take: none comes
        assert set(hub.workers()) == settled and hub.process.poll() is None
        again, _ = await connect(hub.ws_url, "unit", "u1")
        await again.close()
        await wait_healthy(hub.http_url, 5)


async def _run_until_sessions_close(
    config: Config, redis_url: str, job: Callable[[Node, TenantRuntime], Awaitable[object]]
) -> tuple[int | None, dict[str, object], int | None]:
    """An embedded hub whose aging job is `job`: (close code, /healthz, newcomer's close)."""
    loops = timers.LOOPS
    timers.LOOPS = (("aging", 0.01, job),)
    try:
        async with running_hub(config, redis_url, SECRET) as hub, httpx.AsyncClient() as http:
            console, _ = await connect(hub.ws_url, "console", "op1")
            code = await _close_code(console, 20)
            health = await http.get(f"{hub.http_url}/healthz")
            newcomer = await open_peer(hub.ws_url)
            await newcomer.send({"type": "hello", "token": token("console", "op2")})
            late = await _close_code(newcomer, 10)
            assert health.status_code == 503
            return code, health.json(), late
    finally:
        timers.LOOPS = loops


async def test_a_loop_with_a_bug_stops_the_sessions_of_an_embedded_hub(
    config: Config, redis_url: str
) -> None:
    calls = 0

    async def buggy(node: Node, rt: TenantRuntime) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("a bug")

    code, health, late = await _run_until_sessions_close(config, redis_url, buggy)
    assert (code, late) == (1011, 1011)
    assert health["loops"] is False and health["status"] == "unhealthy"
    assert calls == 6  # FAULT_RULES: six errors in a row are fatal


async def test_a_loop_ended_by_a_stray_cancellation_is_a_failure_too(
    config: Config, redis_url: str
) -> None:
    async def ends(node: Node, rt: TenantRuntime) -> None:
        await asyncio.sleep(0.3)
        raise asyncio.CancelledError  # nobody cancelled the task: a task group would not see it

    code, health, late = await _run_until_sessions_close(config, redis_url, ends)
    assert (code, late) == (1011, 1011)
    assert health["loops"] is False
