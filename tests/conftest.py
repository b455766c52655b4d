"""Shared fixtures: one real redis-server for the run, a clean database per test,
asyncio clients on it closed after the test, and hubs served in the test's event loop
on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from hub.config import Config, load_config
from hub.server.runner import RunningHub, running_hub
from hub.store.embedded import EmbeddedRedis
from tests.wire import SECRET

# -- a test that runs too long ends, and cleans up ----------------------------------------

# Of a coroutine test's pytest-timeout budget, the share its body may use: at that
# deadline its task is cancelled, and the rest is left for its `finally` blocks
# (each bounded: sockets, tasks, `vigie serve` processes) and its fixtures' teardown.
DEADLINE_SHARE = 0.75


# -- two workers (scripts/test runs pytest-xdist's -n 2 --dist loadgroup) ---------------------

# The tests that load the machine or time what it does: fault injection (a 5,000-client
# reconnect storm, Sentinel failovers, killed workers, a restarted Redis, 1,000 sockets
# that never read) and the benchmark smoke runs (`vigie serve` and load generators as
# subprocesses). Run one at a time, in one xdist group (one worker, in turn), as they did
# before the suite ran on two workers: two of them at once on 2 cores would starve each
# other's deadlines. The other worker runs the rest beside them.
HEAVY_GROUP = "heavy"
HEAVY_FILES = ("test_fault_*.py", "test_bench_smoke.py")


def _group_heavy_tests(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.match(pattern) for pattern in HEAVY_FILES):
            item.add_marker(pytest.mark.xdist_group(HEAVY_GROUP))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the heavy tests in one xdist group, and give every coroutine test an asyncio
    deadline before pytest-timeout's.

    pytest-timeout's "signal" method raises from a SIGALRM handler in whatever the
    main thread runs; in an event loop that is often another task (a client's reader),
    which dies instead of the test, and the test runs on: a storm test once hung a run
    for more than 10 minutes that way. So a coroutine test is cancelled at its deadline
    (its `finally` blocks and fixtures run, the run goes on), and pytest-timeout stays
    as the last resort with the "thread" method, which ends the run whatever the loop
    is doing (stacks dumped, exit status 1).
    """
    _group_heavy_tests(items)
    for item in items:
        if not isinstance(item, pytest.Function) or not inspect.iscoroutinefunction(item.obj):
            continue
        budget = _timeout_of(item)
        if budget <= 0:  # pytest-timeout is off (--timeout=0): no deadline either
            continue
        item.obj = _with_deadline(item.obj, budget * DEADLINE_SHARE, budget)
        item.add_marker(pytest.mark.timeout(budget, method="thread"), append=False)


def _timeout_of(item: pytest.Function) -> float:
    """The pytest-timeout budget of `item`: its marker's, else the run's (--timeout, ini)."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        value = marker.args[0] if marker.args else marker.kwargs.get("timeout")
        if value is not None:
            return float(value)
    option = item.config.getoption("timeout", None)
    return float(option if option is not None else item.config.getini("timeout") or 0)


def _with_deadline(
    test: Callable[..., Coroutine[Any, Any, Any]], seconds: float, budget: float
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(test)
    async def bounded(*args: Any, **kwargs: Any) -> Any:
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                return await test(*args, **kwargs)
        except TimeoutError:
            if deadline.expired():
                pytest.fail(
                    f"the test ran over its deadline of {seconds:g} s ({DEADLINE_SHARE:g} of "
                    f"its {budget:g} s timeout) and was cancelled: the traceback above shows "
                    "where it was waiting; its finally blocks and fixtures ran"
                )
            raise

    return bounded


# -- Redis and hubs -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server for the whole run (the hub's own embedded launcher)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """A clean database for this test."""
    client = SyncRedis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


RedisFactory = Callable[..., Redis]


@contextlib.asynccontextmanager
async def redis_clients(default_url: str) -> AsyncIterator[RedisFactory]:
    """Open asyncio Redis clients with the factory it yields; all are closed on exit.

    `factory()` opens one on `default_url`, `factory(url, **options)` one on another
    URL or with `Redis.from_url` options (`decode_responses=True`, timeouts). Each
    client is closed on exit even when one's close fails.
    """
    async with contextlib.AsyncExitStack() as stack:

        def open_client(url: str | None = None, **options: Any) -> Redis:
            client = Redis.from_url(url or default_url, **options)
            stack.push_async_callback(client.aclose)
            return client

        yield open_client


@pytest.fixture
async def redis_factory(redis_url: str) -> AsyncIterator[RedisFactory]:
    """Open asyncio Redis clients in the test's loop, closed when the test ends, passed
    or failed: `redis_factory()` on this test's database, `redis_factory(url, **options)`
    for another URL or `Redis.from_url` options (see `redis_clients`).

    Why not `Redis.from_url` in the test: a client closed at the end of the test body is
    left open when an assertion fails before that line. The garbage collector then
    finds its connection during a later test, whose "unclosed Connection" warning
    (an error here: filterwarnings) fails that test too: one failure reported as two.
    tests/integration/test_redis_fixture.py shows both.
    """
    async with redis_clients(redis_url) as factory:
        yield factory


@pytest.fixture
def redis(redis_factory: RedisFactory) -> Redis:
    """An asyncio client (bytes in and out) on this test's clean database, closed when
    the test ends, passed or failed (see `redis_factory`)."""
    return redis_factory()


@pytest.fixture
def config() -> Config:
    """The Narbonne config as shipped (limits on), ignoring VIGIE_* variables."""
    return load_config(env={})


HubFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningHub]]


@pytest.fixture
def hub_factory(redis_url: str, config: Config) -> HubFactory:
    """Start extra hubs (think: processes) on the same Redis: `async with hub_factory():`.

    Synchronous: each hub starts in the loop of whoever enters it (the test's, or the
    session loop of the browser tests), not in this fixture's.
    """

    def factory(cfg: Config | None = None, **hub_overrides: Any) -> Any:
        cfg = cfg or config
        if hub_overrides:
            cfg = replace(cfg, hub=replace(cfg.hub, **hub_overrides))
        return running_hub(cfg, redis_url, SECRET)

    return factory


@pytest.fixture
async def hub(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    """One hub on the Narbonne config."""
    async with hub_factory() as running:
        yield running


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
