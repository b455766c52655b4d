"""What the demo shows: counters, a journal of notable events, the live board.

Two renderings of the same state: a `rich` live board (open incidents by
priority then score, the unit board, counters) for a terminal, and plain
text lines (a journal line per event, a status line every few seconds) for
`--plain` or when stdout is not a terminal.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final, TextIO

from rich.console import Console as RichConsole
from rich.console import Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from clients import ConsoleModel

__all__ = ["DemoStats", "Journal", "JournalHandler", "run_view", "status_line", "summary_lines"]

JOURNAL_LINES: Final = 10
RATE_WINDOW_S: Final = 5.0
STATUS_EVERY_S: Final = 2.0
REFRESH_S: Final = 0.25
BOARD_INCIDENTS: Final = 15
PRIORITY_STYLE: Final = {1: "bold red", 2: "red", 3: "yellow", 4: "cyan", 5: "dim"}


def now_ms() -> int:
    """Wall-clock milliseconds (the protocol's time base)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class DemoStats:
    """Counters of the simulated evening."""

    alerts_sent: int = 0
    alerts_acked: int = 0
    rate_limited: int = 0
    refused: int = 0
    dispatched: int = 0
    resolved: int = 0
    closed: int = 0
    declined: int = 0
    incidents: set[str] = field(default_factory=set)
    last_ack_ms: float | None = None
    last_push_ms: float | None = None
    _events: deque[float] = field(default_factory=deque)

    def event(self, at: float | None = None) -> None:
        """Count one message pushed to the console."""
        at = time.monotonic() if at is None else at
        self._events.append(at)
        while self._events and self._events[0] < at - RATE_WINDOW_S:
            self._events.popleft()

    def events_per_s(self, at: float | None = None) -> float:
        """Console messages per second over the last few seconds."""
        at = time.monotonic() if at is None else at
        recent = sum(1 for t in self._events if t >= at - RATE_WINDOW_S)
        return recent / RATE_WINDOW_S


class Journal:
    """Notable events: printed at once in plain mode, kept for the board otherwise."""

    def __init__(self, plain: bool, out: TextIO | None = None) -> None:
        self.plain = plain
        self.out = out or sys.stdout
        self.started = time.monotonic()
        self.lines: deque[str] = deque(maxlen=JOURNAL_LINES)

    def elapsed(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        """Record one event."""
        line = f"[{self.elapsed():6.1f}s] {text}"
        self.lines.append(line)
        if self.plain:
            print(line, file=self.out, flush=True)


class JournalHandler(logging.Handler):
    """Routes log records into the journal while the live board owns the terminal."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(logging.WARNING)
        self.journal = journal

    def emit(self, record: logging.LogRecord) -> None:
        """Add the record to the journal."""
        self.journal.note(f"{record.levelname.lower()} {record.name}: {record.getMessage()}")


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def status_line(model: ConsoleModel, stats: DemoStats) -> str:
    """One line of counters."""
    online = sum(1 for u in model.units.values() if u.online)
    return (
        f"alerts sent {stats.alerts_sent} acked {stats.alerts_acked}"
        f" (rate-limited {stats.rate_limited}) | incidents {len(stats.incidents)}"
        f" open {len(model.incidents)} | dispatched {stats.dispatched}"
        f" resolved {stats.resolved} closed {stats.closed} | units online {online}"
        f" | {stats.events_per_s():.1f} events/s | last ack {_latency(stats.last_ack_ms)}"
        f" push {_latency(stats.last_push_ms)}"
    )


def _age(opened_at: int) -> str:
    seconds = max(0, (now_ms() - opened_at) // 1000)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _incident_table(model: ConsoleModel) -> Table:
    table = Table(title="Open incidents (priority, then score)", expand=True)
    for name in ("id", "category", "P", "score", "reports", "status", "unit", "cell", "age"):
        table.add_column(name, no_wrap=True)
    ranked = model.ranked()
    for incident in ranked[:BOARD_INCIDENTS]:
        table.add_row(
            incident.id,
            incident.category,
            Text(f"P{incident.priority}", style=PRIORITY_STYLE.get(incident.priority, "")),
            f"{incident.score:.1f}",
            str(incident.reports),
            incident.status,
            incident.unit or "",
            incident.cell,
            _age(incident.opened_at),
        )
    if len(ranked) > BOARD_INCIDENTS:
        table.caption = f"… and {len(ranked) - BOARD_INCIDENTS} more"
    return table


def _unit_table(model: ConsoleModel) -> Table:
    table = Table(title="Units", expand=True)
    for name in ("id", "status", "online", "position cell"):
        table.add_column(name, no_wrap=True)
    for unit in sorted(model.units.values(), key=lambda u: u.id):
        online = Text("yes", style="green") if unit.online else Text("no", style="dim")
        table.add_row(unit.id, unit.status, online, unit.cell or "")
    return table


def render_board(model: ConsoleModel, stats: DemoStats, journal: Journal) -> RenderableType:
    """The whole live board."""
    header = Panel(Text(status_line(model, stats)), title="Vigie — an evening in Narbonne")
    recent = Panel(Text("\n".join(journal.lines)), title="Latest events")
    return Group(header, _incident_table(model), _unit_table(model), recent)


async def run_view(model: ConsoleModel, stats: DemoStats, journal: Journal) -> None:
    """Show the board until cancelled: a live rich board, or periodic status lines."""
    if journal.plain:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            journal.note(status_line(model, stats))
    root = logging.getLogger()
    saved = root.handlers[:]
    # The live board redraws the terminal: log records go to its journal panel instead.
    root.handlers[:] = [JournalHandler(journal)]
    try:
        with Live(console=RichConsole(), auto_refresh=False, transient=False) as live:
            while True:
                live.update(render_board(model, stats, journal), refresh=True)
                await asyncio.sleep(REFRESH_S)
    finally:
        root.handlers[:] = saved


def summary_lines(model: ConsoleModel, stats: DemoStats) -> list[str]:
    """The closing report: counters, then the open incidents by priority."""
    lines = [f"summary: {status_line(model, stats)}"]
    for incident in model.ranked():
        lines.append(
            f"  open {incident.id:>6} P{incident.priority} {incident.category:<17}"
            f" reports {incident.reports:>2} {incident.status:<12} {incident.cell}"
        )
    return lines
