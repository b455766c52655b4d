"""The demo's evening: its clients and actors, connected to one hub.

One console (the operator), one unit per patrol, one citizen per resident,
each a client of the library with its own token; the actors run in the
caller's task group and the connections close when the evening exits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Final

from clients import Citizen, Console, ConsoleModel, Overflow, Unit
from hub.core.tokens import issue_token
from hub.demo.actors import Operator, Patrol, Resident
from hub.demo.board import DemoStats, Journal
from hub.demo.town import Town

__all__ = ["Evening"]

NEIGHBOURS_MAX: Final = 3
TOKEN_TTL_S: Final = 24 * 3600


class Evening:
    """The demo's clients and actors, connected to one hub; closes them all on exit."""

    def __init__(
        self,
        url: str,
        secret: str,
        town: Town,
        journal: Journal,
        stats: DemoStats,
    ) -> None:
        self.url, self.secret, self.tenant = url, secret, town.tenant.id
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
        return issue_token(self.secret, sub=sub, role=role, tenant=self.tenant, ttl_s=TOKEN_TTL_S)

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
