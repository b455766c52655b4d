"""Shared fixtures: one real redis-server for the run, a clean database per test,
and hubs served in the test's event loop on free ports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis

from hub.config import Config, load_config
from hub.server.runner import RunningHub, running_hub
from hub.store.embedded import EmbeddedRedis
from tests.wire import SECRET


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


@pytest.fixture
def config() -> Config:
    """The Narbonne config as shipped (limits on), ignoring VIGIE_* variables."""
    return load_config(env={})


HubFactory = Callable[..., contextlib.AbstractAsyncContextManager[RunningHub]]


@pytest.fixture
async def hub_factory(redis_url: str, config: Config) -> AsyncIterator[HubFactory]:
    """Start extra hubs (think: processes) on the same Redis: `async with hub_factory():`."""

    def factory(cfg: Config | None = None, **hub_overrides: Any) -> Any:
        cfg = cfg or config
        if hub_overrides:
            cfg = replace(cfg, hub=replace(cfg.hub, **hub_overrides))
        return running_hub(cfg, redis_url, SECRET)

    yield factory


@pytest.fixture
async def hub(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    """One hub on the Narbonne config."""
    async with hub_factory() as running:
        yield running


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
