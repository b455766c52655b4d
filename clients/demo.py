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
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from redis.asyncio import Redis

from clients.board import DemoStats, Journal, run_view, summary_lines
from clients.citizen import Citizen
from clients.console import Console
from clients.evening import Operator, Patrol, Resident, Town
from clients.mailbox import Overflow
from clients.model import ConsoleModel
from clients.tokens import mint_token
from clients.unit import Unit
from hub.cli import embedded_or_given_redis
from hub.config import load_config
from hub.server.runner import running_hub
from hub.server.web import web_urls

__all__ = ["Evening", "run_demo"]

MARKER: Final = ".vigie-demo"
NEIGHBOURS_MAX: Final = 3
TOKEN_TTL_S: Final = 24 * 3600


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo (`vigie demo`); returns the process exit status.

    Args:
        args: `port`, `citizens`, `units`, `duration` (seconds, 0: until Ctrl-C),
            `plain` (text lines instead of the live board) and `data_dir`.
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
    stop = asyncio.Event()
    config = load_config()
    tenant = next(iter(config.tenants.values()))
    secret = secrets.token_urlsafe(32)
    print("vigie demo: DEV MODE — a random secret for this run; its tokens die with it", flush=True)
    if fresh:
        await _wipe(redis_url)
    else:
        print(f"vigie demo: keeping the data in {args.data_dir} (not created by the demo)")
    journal, stats = Journal(plain), DemoStats()
    async with running_hub(config, redis_url, secret, port=args.port, dev=True) as hub:
        # After the hub started: uvicorn's serve() takes SIGINT/SIGTERM for itself, and
        # the clients must stop before the hub does, not reconnect to a closing hub.
        _stop_on_signals(stop)
        print(f"vigie demo: hub at {hub.ws_url}, Redis at {redis_url}; "
              f"{args.units} patrols, {args.citizens} residents, 1 operator"
              f"{'' if args.duration else '; Ctrl-C to stop'}", flush=True)  # fmt: skip
        print(web_urls(hub.http_url, secret, tenant.id), flush=True)
        town = Town(tenant, config.hub.h3_resolution, random.Random())
        async with Evening(hub.ws_url, secret, tenant.id, town, journal, stats) as evening:
            await evening.gather(citizens=args.citizens, units=args.units)
            async with asyncio.TaskGroup() as tasks:
                evening.begin(tasks)
                view = tasks.create_task(run_view(evening.model, stats, journal))
                await _until(stop, args.duration)
                evening.end()
                view.cancel()
            summary = summary_lines(evening.model, stats)  # before everyone disconnects
    print("\n".join(summary), flush=True)
    return 0


class Evening:
    """The demo's clients and actors, connected to one hub; closes them all on exit."""

    def __init__(
        self,
        url: str,
        secret: str,
        tenant: str,
        town: Town,
        journal: Journal,
        stats: DemoStats,
    ) -> None:
        self.url, self.secret, self.tenant = url, secret, tenant
        self.town, self.journal, self.stats = town, journal, stats
        self.console = Console(url, self._token("console", "operator-1"))
        self.operator = Operator(self.console, town, journal, stats)
        self.patrols: list[Patrol] = []
        self.residents: list[Resident] = []
        self._stack = contextlib.AsyncExitStack()
        self._running: set[asyncio.Task[None]] = set()
        self._tasks: asyncio.TaskGroup | None = None

    @property
    def model(self) -> ConsoleModel:
        """The operator console's live model."""
        return self.console.model

    def _token(self, role: str, sub: str) -> str:
        return mint_token(self.secret, role=role, sub=sub, tenant=self.tenant, ttl_s=TOKEN_TTL_S)

    async def __aenter__(self) -> Evening:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

    async def gather(self, *, citizens: int, units: int) -> None:
        """Connect the console, then the patrols, then the residents."""
        await self._stack.enter_async_context(self.console)
        beats = self.town.beats
        for n in range(units):
            beat = beats[n % len(beats)]
            sub = f"patrol-{beat.name}" + (f"-{n // len(beats) + 1}" if n >= len(beats) else "")
            self.patrols.append(Patrol(Unit(self.url, self._token("unit", sub)), beat,
                                       self.town, self.journal, self.stats))  # fmt: skip
        for n in range(citizens):
            # Residents of the busy centre outnumber the others.
            home = self.town.rng.choices(beats, [3 if i == 0 else 1 for i in range(len(beats))])[0]
            citizen = Citizen(self.url, self._token("citizen", f"resident-{n + 1}"),
                              queue_size=64, overflow=Overflow.DROP_OLDEST)  # fmt: skip
            self.residents.append(Resident(citizen, home, self.town, self.journal, self.stats,
                                           self._neighbours, self._spawn))  # fmt: skip
        clients = [p.unit for p in self.patrols] + [r.citizen for r in self.residents]
        for client in clients:
            self._stack.push_async_callback(client.close)  # also when a start fails
        await asyncio.gather(*(c.start() for c in clients))

    def begin(self, tasks: asyncio.TaskGroup) -> None:
        """Start every actor in `tasks`."""
        self._tasks = tasks
        self._spawn(self.operator.run())
        for patrol in self.patrols:
            self._spawn(patrol.run())
        for resident in self.residents:
            self._spawn(resident.run())

    def end(self) -> None:
        """Stop every actor (their connections close when the evening exits)."""
        self._tasks = None  # witnesses reported from now on are not started
        for task in list(self._running):
            task.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._tasks is None:
            coro.close()
            return
        task = self._tasks.create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _neighbours(self, resident: Resident) -> list[Resident]:
        same_beat = [r for r in self.residents if r.home == resident.home and r is not resident]
        count = min(len(same_beat), self.town.rng.randint(1, NEIGHBOURS_MAX))
        return self.town.rng.sample(same_beat, count)
