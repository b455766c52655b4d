"""`vigie demo`: an embedded Redis, a hub in this process, and an evening in Narbonne.

Everything goes over real WebSockets with the client library: one patrol
per configured sector, a few dozen residents, one scripted operator console.
The hub runs in dev mode (a random secret for this run only).

The demo's Redis data lives in `--data-dir`; when the demo created that
directory (it leaves a marker file there) the data is wiped at each start so
that every evening starts empty. A directory it did not create is never wiped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import secrets
import signal
import socket
import sys
from pathlib import Path
from typing import Final

from redis.asyncio import Redis

from hub.config import load_config
from hub.demo.board import DemoStats, Journal, run_view, summary_lines
from hub.demo.evening import Evening
from hub.demo.history import replay, synthetic
from hub.demo.town import Town
from hub.server.handlers import now_ms
from hub.server.runner import RunningHub, running_hub
from hub.server.web import web_urls
from hub.store.embedded import embedded_or_given_redis

__all__ = ["announce", "run_demo"]

MARKER: Final = ".vigie-demo"
HISTORY_PER_DAY: Final = 60  # alerts a day in the seeded past


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo (`vigie demo`); returns the process exit status.

    Args:
        args: `port`, `citizens`, `units`, `duration` (seconds, 0: until Ctrl-C),
            `plain` (text lines instead of the live board), `data_dir` and
            `history_days` (past days seeded for the statistics, on fresh data).
    """
    plain = bool(args.plain) or not sys.stdout.isatty()
    if not _port_free(args.port):
        print(f"vigie demo: port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir)
    fresh = _claim(data_dir)
    try:
        with embedded_or_given_redis(None, str(data_dir)) as redis_url:
            return asyncio.run(_demo(args, redis_url, plain=plain, fresh=fresh))
    except (KeyboardInterrupt, asyncio.CancelledError):  # a second Ctrl-C: stop hard
        print("vigie demo: interrupted", file=sys.stderr)
        return 130


def _port_free(port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _claim(data_dir: Path) -> bool:
    """True when the demo owns `data_dir` (it created it), so may wipe its data."""
    if data_dir.is_dir() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("created by `vigie demo`: its Redis data is wiped each start\n")
    return True


async def _wipe(redis_url: str) -> None:
    redis = Redis.from_url(redis_url, socket_timeout=5)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


def _stop_on_signals(stop: asyncio.Event) -> None:
    """First Ctrl-C (or SIGTERM): stop cleanly. A second one: cancel everything."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and main is not None:
            main.cancel()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows: no handlers
            loop.add_signal_handler(sig, on_signal)


async def _until(stop: asyncio.Event, duration: float) -> None:
    if duration > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    else:
        await stop.wait()


async def _demo(args: argparse.Namespace, redis_url: str, *, plain: bool, fresh: bool) -> int:
    config = load_config()
    tenant = next(iter(config.tenants.values()))
    secret = secrets.token_urlsafe(32)
    print("vigie demo: DEV MODE — a random secret for this run; its tokens die with it", flush=True)
    if fresh:
        await _wipe(redis_url)
    else:
        print(f"vigie demo: keeping the data in {args.data_dir} (not created by the demo)")
    async with running_hub(config, redis_url, secret, port=args.port, dev=True) as hub:
        # After the hub started: uvicorn's serve() takes SIGINT/SIGTERM for itself, and
        # the clients must stop before the hub does, not reconnect to a closing hub.
        stop = asyncio.Event()
        _stop_on_signals(stop)
        announce(hub, secret, tenant.id, redis_url, args)
        town = Town(tenant, config.hub.h3_resolution, random.Random())
        if fresh and getattr(args, "history_days", 0) > 0:  # the statistics are not empty
            past = synthetic(town, args.history_days, HISTORY_PER_DAY, now_ms(), town.rng)
            seeded = await replay(hub.node.store, config, tenant, past)
            print(f"vigie demo: {seeded} past incidents over {args.history_days} days", flush=True)
        summary = await _evening(hub.ws_url, secret, town, args, plain=plain, stop=stop)
    print("\n".join(summary), flush=True)
    return 0


def announce(
    hub: RunningHub, secret: str, tenant: str, redis_url: str, args: argparse.Namespace
) -> None:
    """Say what is running, once the hub serves: the one place the demo tells its user where.

    Args:
        hub: The demo's hub (its `ws_url`, `http_url`).
        secret: The hub's secret for this run (it signs the demo's tokens).
        tenant: The tenant the evening happens in.
        redis_url: The embedded Redis.
        args: The demo's arguments (`units`, `citizens`, `duration`).
    """
    print(f"vigie demo: hub at {hub.ws_url}, Redis at {redis_url}; "
          f"{args.units} patrols, {args.citizens} residents, 1 operator"
          f"{'' if args.duration else '; Ctrl-C to stop'}", flush=True)  # fmt: skip
    print(web_urls(hub.http_url, secret, tenant), flush=True)


async def _evening(
    url: str, secret: str, town: Town, args: argparse.Namespace, *, plain: bool, stop: asyncio.Event
) -> list[str]:
    """Run the evening until `stop` or `args.duration`; returns the summary lines."""
    journal, stats = Journal(plain), DemoStats()
    async with Evening(url, secret, town, journal, stats) as evening:
        await evening.gather(citizens=args.citizens, units=args.units)
        async with asyncio.TaskGroup() as tasks:
            evening.begin(tasks)
            view = tasks.create_task(run_view(evening.model, stats, journal))
            await _until(stop, args.duration)
            evening.end()
            view.cancel()
        return summary_lines(evening.model, stats)  # before everyone disconnects
