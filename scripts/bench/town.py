"""A simulated town driving a hub: citizens, patrol units and consoles in worker processes.

The coordinator (`Town`) lays the town out (which H3 sectors the units cover,
where alerts fall), spreads the clients over worker processes, and drives them
step by step: each step offers alerts at an open-loop Poisson rate for a while,
then collects what every client saw and checks it against what the protocol
promises (protocol.md: every accepted alert produces an `incident` event, pushed
to every console and every unit covering its cell).

Timing: each alert carries its send time in its text (`bench:<key>:<ns>`), and
the incident event carries the latest report's text, so the process that
receives the push times it with the same clock (CLOCK_MONOTONIC is system-wide).
Deliveries are matched per recipient and alert key: lost, duplicate, and extra
(units also cover the ring around their position, so they may get more than
their sector's alerts — extra is reported, never counted as an error).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import gc
import multiprocessing
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import h3
import msgpack
import orjson

from bench.report import summarize
from bench.system import raise_open_files_limit
from bench.wsclient import OP_TEXT, WsClient, open_client

__all__ = ["CATEGORY_MIX", "Layout", "Town", "TownPlan", "build_layout", "parse_categories"]

TENANT = "narbonne"
SECTOR_RES = 7  # a unit's sector: one res-7 cell (~5 km², 49 res-9 cells)
KEY_STEP_SHIFT = 40  # alert key = step << 40 | worker << 32 | seq
CONNECT_TIMEOUT_S = 30.0
DRAIN_S = 5.0  # after a step: how long acks and pushes may still arrive
QUIET_S = 0.3  # a worker is drained when nothing arrived for this long
PROGRESS_EVERY_S = 1.0
TOKEN_TTL_S = 6 * 3600
ROLE_LETTER = {"citizen": "c", "unit": "u", "console": "k"}  # peer ids (token subs): c7, u3, k0

# A plausible evening: mostly nuisances, a few urgent reports (P1-P2 ones also
# make the hub recommend units, which is part of the cost being measured).
CATEGORY_MIX: tuple[tuple[str, int], ...] = (
    ("noise", 30), ("incivility", 15), ("vandalism", 12), ("neighbour_dispute", 8),
    ("road_hazard", 8), ("suspicious", 8), ("theft", 7), ("rodeo", 4), ("other", 3),
    ("violence", 2), ("burglary", 2), ("fire", 1),
)  # fmt: skip


def parse_categories(spec: str) -> tuple[tuple[str, int], ...]:
    """`mix` (CATEGORY_MIX) or `name:weight,...` (e.g. `noise:3,incivility:1`)."""
    if spec == "mix":
        return CATEGORY_MIX
    out = []
    for part in spec.split(","):
        name, _, weight = part.partition(":")
        out.append((name.strip(), int(weight or 1)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are: unit sectors and the cells alerts fall in."""

    sectors: tuple[str, ...]  # res-7 cells, one per unit (round robin)
    unit_sector: tuple[int, ...]  # sector index of each unit
    cells: tuple[str, ...]  # res-9 cells of the town that alerts fall in
    cell_sector: tuple[int, ...]  # sector index of each alert cell (-1: no unit)


def build_layout(units: int, *, only_cell: str | None = None) -> Layout:
    """Units cover the town's res-7 sectors round robin; alerts fall inside covered ones.

    With `only_cell`, every alert falls in that cell and every unit covers its sector
    (the fan-out benchmark).
    """
    from hub.config import load_config
    from hub.core.geo import TenantArea

    config = load_config(env={})
    area = TenantArea.from_polygon(config.tenants[TENANT].area, config.hub.h3_resolution)
    if only_cell is not None:
        sector = str(h3.cell_to_parent(only_cell, SECTOR_RES))
        return Layout((sector,), (0,) * units, (only_cell,), (0,))
    all_sectors = sorted({str(h3.cell_to_parent(c, SECTOR_RES)) for c in area.cells})
    # Spread units over the whole town, not over the first sectors in sort order.
    rng = random.Random(7)
    rng.shuffle(all_sectors)
    sectors = tuple(all_sectors[: max(1, min(units, len(all_sectors)))])
    index = {s: i for i, s in enumerate(sectors)}
    # Interior cells only: an alert joins an open incident up to `group_k` rings away,
    # and the event goes to the units covering the *incident's* cell; inside a sector
    # both cells have the same units, so the expected recipients are exact.
    group_k = config.tenants[TENANT].group_k
    cells = sorted(
        c
        for c in area.cells
        if len({str(h3.cell_to_parent(n, SECTOR_RES)) for n in h3.grid_disk(c, group_k)}) == 1
        and str(h3.cell_to_parent(c, SECTOR_RES)) in index
    )
    cell_sector = tuple(index[str(h3.cell_to_parent(c, SECTOR_RES))] for c in cells)
    unit_sector = tuple(i % len(sectors) for i in range(units))
    return Layout(sectors, unit_sector, tuple(cells), cell_sector)


@dataclass(frozen=True, slots=True)
class TownPlan:
    """Everything a worker needs (pickled to each worker process)."""

    url: str
    secret: str
    citizens: int
    units: int
    consoles: int
    layout: Layout
    reporting: float = 0.1  # share of citizens who send alerts
    codec: str = "json"  # json | msgpack | mixed
    position_every_s: float = 5.0
    connect_concurrency: int = 50  # per worker; the hub's Redis pool holds 256 connections
    categories: tuple[tuple[str, int], ...] = CATEGORY_MIX
    seed: int = 1
    urls: tuple[str, ...] = ()  # several hub processes: client i connects to urls[i % n]


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One load step, as a worker sees it."""

    step: int
    rate: float  # this worker's share, alerts per second
    start_ns: int  # CLOCK_MONOTONIC
    duration_s: float
    max_alerts: int


# -- the worker process --------------------------------------------------------------


def _codec_for(plan: TownPlan, index: int) -> str:
    if plan.codec == "mixed":
        return "msgpack" if index % 2 else "json"
    return plan.codec


class Peer:
    """One simulated client: its socket, codec and what it waits for."""

    __slots__ = ("codec", "id", "index", "role", "waiters", "ws")

    def __init__(self, role: str, index: int, codec: str) -> None:
        self.role = role
        self.index = index
        self.id = f"{ROLE_LETTER[role]}{index}"
        self.codec = codec
        self.ws: WsClient | None = None
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def send(self, message: dict[str, Any]) -> None:
        """Encode with the peer's codec and send (no-op when closed)."""
        ws = self.ws
        if ws is None or not ws.is_open:
            return
        if self.codec == "json":
            ws.send_text(orjson.dumps(message))
        else:
            ws.send_binary(msgpack.packb(message, use_bin_type=True))

    def expect(self, key: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next message whose type (or ref) is `key`."""
        future = asyncio.get_running_loop().create_future()
        self.waiters[key] = future
        return future

    def resolve(self, key: str, message: dict[str, Any]) -> bool:
        """Hand `message` to a waiter for `key`, if any."""
        future = self.waiters.pop(key, None)
        if future is None or future.done():
            return False
        future.set_result(message)
        return True

    @property
    def open(self) -> bool:
        """True while connected."""
        return self.ws is not None and self.ws.is_open


@dataclass
class StepRecord:
    """What one worker did and saw during one step."""

    keys: array.array[int] = field(default_factory=lambda: array.array("q"))
    cells: array.array[int] = field(default_factory=lambda: array.array("i"))
    sent_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    ack_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    lag_ns: array.array[int] = field(default_factory=lambda: array.array("q"))
    errors: Counter[str] = field(default_factory=Counter)
    got: dict[str, set[int]] = field(default_factory=dict)
    latency: dict[str, array.array[int]] = field(
        default_factory=lambda: {"unit": array.array("q"), "console": array.array("q")}
    )
    duplicates: int = 0
    updates: int = 0  # the same alert's incident again, changed (an operator acknowledged it)
    states: dict[tuple[str, int], int] = field(default_factory=dict)  # hash of the incident
    outstanding: int = 0  # submits not answered yet
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    first_ns: int = 0
    last_ns: int = 0


class Worker:
    """The clients of one worker process and the commands it obeys."""

    def __init__(self, plan: TownPlan, index: int, workers: int, conn: Connection) -> None:
        self.plan = plan
        self.index = index
        self.conn = conn
        self.rng = random.Random(plan.seed * 1000 + index)
        self.citizens = [
            Peer("citizen", i, _codec_for(plan, i)) for i in range(index, plan.citizens, workers)
        ]
        self.units = [
            Peer("unit", i, _codec_for(plan, i)) for i in range(index, plan.units, workers)
        ]
        self.consoles = [
            Peer("console", i, _codec_for(plan, i)) for i in range(index, plan.consoles, workers)
        ]
        n_reporting = max(1, round(len(self.citizens) * plan.reporting)) if self.citizens else 0
        self.reporters = self.citizens[:n_reporting]
        self.pending: dict[str, tuple[StepRecord, int]] = {}  # ref → (step, alert index)
        self.steps: dict[int, StepRecord] = {}
        self.other_messages = 0
        self.late = 0
        self.connect_errors: Counter[str] = Counter()
        self.last_push_ns = 0
        self.commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        names, weights = zip(*plan.categories, strict=True)
        self.category_names, self.category_weights = list(names), list(weights)

    # -- receiving --------------------------------------------------------------------

    def handler(self, peer: Peer) -> Callable[[int, bytes], None]:
        """The frame callback of a peer."""
        recipient = peer.role != "citizen"

        def on_message(opcode: int, payload: bytes) -> None:
            now = time.monotonic_ns()
            message = orjson.loads(payload) if opcode == OP_TEXT else msgpack.unpackb(payload)
            kind = message.get("type")
            if recipient and kind == "incident":
                self._on_incident(peer, message, now)
            elif kind == "alert.ack" or (kind == "error" and "ref" in message):
                self._on_reply(peer, message, now)
            elif not (peer.resolve(kind, message) or peer.resolve(message.get("ref", ""), message)):
                self.other_messages += 1

        return on_message

    def _on_incident(self, peer: Peer, message: dict[str, Any], now: int) -> None:
        text = message.get("incident", {}).get("text") or ""
        if not text.startswith("bench:"):
            self.other_messages += 1
            return
        _, key_s, sent_s = text.split(":")
        key = int(key_s)
        record = self.steps.get(key >> KEY_STEP_SHIFT)
        if record is None:
            self.late += 1
            return
        self.last_push_ns = now
        seen = record.got.setdefault(peer.id, set())
        state = hash(orjson.dumps(message.get("incident", {}), option=orjson.OPT_SORT_KEYS))
        if key in seen:
            # The same incident twice is a duplicate; a new state of it (an operator's
            # acknowledgement, an offer to a unit, its expiry) is an update.
            if record.states.get((peer.id, key)) == state:
                record.duplicates += 1
            else:
                record.updates += 1
            return
        seen.add(key)
        record.states[(peer.id, key)] = state
        record.latency[peer.role].append(now - int(sent_s))
        record.last_ns = max(record.last_ns, now)

    def _on_reply(self, peer: Peer, message: dict[str, Any], now: int) -> None:
        ref = message.get("ref", "")
        found = self.pending.pop(ref, None)
        if found is None:
            if not peer.resolve(ref, message):
                self.other_messages += 1
            return
        record, i = found
        record.outstanding -= 1
        if not record.outstanding:
            record.drained.set()
        if message["type"] == "alert.ack":
            record.ack_ns[i] = now - record.sent_ns[i]
        else:
            record.errors[str(message.get("code"))] += 1

    # -- connecting -------------------------------------------------------------------

    async def connect_all(self) -> None:
        """Open every session of this worker, a bounded number at a time."""
        limit = asyncio.Semaphore(self.plan.connect_concurrency)

        async def one(peer: Peer) -> None:
            async with limit:
                try:
                    await self._connect(peer)
                except (OSError, TimeoutError, RuntimeError) as exc:
                    self.connect_errors[type(exc).__name__] += 1

        # Units and consoles first: they must be in place before alerts flow.
        await asyncio.gather(*(one(p) for p in self.units + self.consoles))
        await asyncio.gather(*(one(p) for p in self.citizens))

    async def _connect(self, peer: Peer) -> None:
        from hub.core.tokens import issue_token

        token = issue_token(
            self.plan.secret, role=peer.role, sub=peer.id, tenant=TENANT, ttl_s=TOKEN_TTL_S
        )
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            urls = self.plan.urls or (self.plan.url,)
            peer.ws = await open_client(urls[peer.index % len(urls)], f"vigie.v1.{peer.codec}")
            peer.ws.on_message = self.handler(peer)
            welcome = peer.expect("welcome")
            snapshot = peer.expect("snapshot") if peer.role != "citizen" else None
            peer.send({"type": "hello", "token": token})
            await welcome
            if snapshot is not None:
                await snapshot
            if peer.role == "unit":
                sector = self.plan.layout.sectors[self.plan.layout.unit_sector[peer.index]]
                ok = peer.expect("cover")
                peer.send({"type": "cover", "ref": "cover", "cells": [sector]})
                reply = await ok
                if reply.get("type") != "ok":
                    raise RuntimeError(f"cover refused: {reply}")
                self._move(peer)

    # -- load -------------------------------------------------------------------------

    def _move(self, unit: Peer) -> None:
        """A position fix somewhere in the unit's sector (a random res-9 cell of it)."""
        sector = self.plan.layout.sectors[self.plan.layout.unit_sector[unit.index]]
        cell = h3.cell_to_center_child(sector, 9)
        for _ in range(self.rng.randint(0, 3)):
            cell = self.rng.choice(h3.grid_ring(cell, 1))
        if h3.cell_to_parent(cell, SECTOR_RES) != sector:
            cell = h3.cell_to_center_child(sector, 9)
        lat, lon = h3.cell_to_latlng(cell)
        unit.send({"type": "unit.position", "lat": lat, "lon": lon, "at": time.time_ns() // 10**6})

    async def _patrol(self, until_ns: int) -> None:
        """Every unit sends a position every `position_every_s`, spread evenly."""
        if not self.units or self.plan.position_every_s <= 0:
            return
        gap = self.plan.position_every_s / len(self.units)
        i = 0
        while time.monotonic_ns() < until_ns:
            unit = self.units[i % len(self.units)]
            if unit.open:
                self._move(unit)
            i += 1
            await asyncio.sleep(gap)

    def _submit(self, record: StepRecord, step: int, seq: int, sent_ns: int) -> None:
        open_reporters = self.reporters
        citizen = self.rng.choice(open_reporters)
        for _ in range(8):
            if citizen.open:
                break
            citizen = self.rng.choice(open_reporters)
        layout = self.plan.layout
        cell_index = self.rng.randrange(len(layout.cells))
        lat, lon = h3.cell_to_latlng(layout.cells[cell_index])
        key = (step << KEY_STEP_SHIFT) | (self.index << 32) | seq
        category = self.rng.choices(self.category_names, self.category_weights)[0]
        ref = f"r{key}"
        i = len(record.keys)
        record.keys.append(key)
        record.cells.append(cell_index)
        record.sent_ns.append(sent_ns)
        record.ack_ns.append(-1)
        self.pending[ref] = (record, i)
        record.outstanding += 1
        citizen.send(
            {"type": "alert.submit", "ref": ref, "category": category, "lat": lat, "lon": lon,
             "text": f"bench:{key}:{sent_ns}"}
        )  # fmt: skip

    async def run_step(self, spec: StepSpec) -> None:
        """Offer alerts at `spec.rate` (Poisson) from `spec.start_ns` for `spec.duration_s`."""
        record = self.steps[spec.step] = StepRecord()
        end_ns = spec.start_ns + int(spec.duration_s * 1e9)
        patrol = asyncio.ensure_future(self._patrol(end_ns))
        progress = asyncio.ensure_future(self._progress(spec.step, end_ns))
        now = time.monotonic_ns()
        if spec.start_ns > now:
            await asyncio.sleep((spec.start_ns - now) / 1e9)
        record.first_ns = spec.start_ns
        if spec.rate > 0 and self.reporters:
            await self._offer(record, spec, end_ns)
        else:
            await asyncio.sleep(max(0.0, (end_ns - time.monotonic_ns()) / 1e9))
        await patrol
        await self._drain_acks(record)
        progress.cancel()
        self.conn.send(("sent", spec.step))

    async def _offer(self, record: StepRecord, spec: StepSpec, end_ns: int) -> None:
        rng = random.Random(self.plan.seed * 7919 + spec.step * 31 + self.index)
        due = spec.start_ns
        for seq in range(spec.max_alerts):
            due += int(rng.expovariate(spec.rate) * 1e9)
            if due >= end_ns:
                return
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            record.lag_ns.append(now - due)
            self._submit(record, spec.step, seq, now)

    async def _drain_acks(self, record: StepRecord) -> None:
        if record.outstanding:
            record.drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(record.drained.wait(), DRAIN_S)

    async def _progress(self, step: int, end_ns: int) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            record = self.steps[step]
            self.conn.send(
                (
                    "progress",
                    {
                        "sent": len(record.keys),
                        "acked": sum(1 for a in record.ack_ns if a >= 0),
                        "pushes": sum(len(s) for s in record.got.values()),
                    },
                )
            )

    async def collect(self, step: int) -> dict[str, Any]:
        """Wait until pushes stop arriving (at most DRAIN_S), then hand over the step."""
        # Pushes trail acks (they go through the stream): wait until none came for
        # QUIET_S, counting from now at the earliest, and at most DRAIN_S.
        asked = time.monotonic_ns()
        deadline = asked + int(DRAIN_S * 1e9)
        while time.monotonic_ns() < deadline:
            if time.monotonic_ns() - max(self.last_push_ns, asked) > QUIET_S * 1e9:
                break
            await asyncio.sleep(0.05)
        record = self.steps.pop(step)
        for ref in [ref for ref, (r, _) in self.pending.items() if r is record]:
            del self.pending[ref]
        return {
            "keys": record.keys, "cells": record.cells, "ack_ns": record.ack_ns,
            "lag_ns": record.lag_ns, "errors": dict(record.errors),
            "got": {peer: array.array("q", keys) for peer, keys in record.got.items()},
            "latency": record.latency, "duplicates": record.duplicates,
            "first_ns": record.first_ns, "last_ns": record.last_ns,
        }  # fmt: skip

    def status(self) -> dict[str, Any]:
        """Connections and how the closed ones ended."""
        peers = self.citizens + self.units + self.consoles
        closes = Counter(
            str(p.ws.close_code) for p in peers if p.ws is not None and not p.ws.is_open
        )
        return {
            "open": {
                role: sum(1 for p in group if p.open)
                for role, group in (
                    ("citizen", self.citizens),
                    ("unit", self.units),
                    ("console", self.consoles),
                )
            },
            "closes": dict(closes),
            "connect_errors": dict(self.connect_errors),
            "other_messages": self.other_messages,
            "late": self.late,
        }

    # -- the command loop ---------------------------------------------------------------

    def _read_commands(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                command = self.conn.recv()
            except (EOFError, OSError):
                command = ("stop",)
            loop.call_soon_threadsafe(self.commands.put_nowait, command)
            if command[0] == "stop":
                return

    async def serve(self) -> None:
        """Connect, report ready, then obey the coordinator until `stop`."""
        loop = asyncio.get_running_loop()
        # A thread reads the pipe: loop.add_reader would make the fd non-blocking, and
        # a large result would then fail to send in one go.
        threading.Thread(target=self._read_commands, args=(loop,), daemon=True).start()
        await self.connect_all()
        gc.collect()
        gc.freeze()  # thousands of long-lived peers: keep them out of every collection
        self.conn.send(("ready", self.status()))
        running: asyncio.Future[None] | None = None
        while True:
            command, *args = await self.commands.get()
            if command == "run":
                running = asyncio.ensure_future(self.run_step(args[0]))
            elif command == "collect":
                if running is not None:
                    await running
                self.conn.send(("result", await self.collect(args[0])))
            elif command == "status":
                self.conn.send(("status", self.status()))
            elif command == "stop":
                break
        for peer in self.citizens + self.units + self.consoles:
            if peer.ws is not None:
                peer.ws.close()
        await asyncio.sleep(0.2)


def worker_main(plan: TownPlan, index: int, workers: int, conn: Connection) -> None:
    """Entry point of a worker process."""
    raise_open_files_limit()
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a hub dependency on Linux
        runner = asyncio.run

    async def main() -> None:
        await Worker(plan, index, workers, conn).serve()

    with contextlib.suppress(KeyboardInterrupt):
        runner(main())


# -- the coordinator ------------------------------------------------------------------


class Town:
    """Worker processes holding the town's clients, driven step by step."""

    def __init__(self, plan: TownPlan, workers: int, *, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.log = log
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self._theirs: list[Connection] = []
        self.processes = []
        for index in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main, args=(plan, index, workers, theirs), daemon=True
            )
            self.pipes.append(ours)
            self._theirs.append(theirs)
            self.processes.append(process)
        self.step = 0

    @property
    def pids(self) -> dict[str, int]:
        """Worker process ids, by name."""
        return {f"generator{i}": p.pid for i, p in enumerate(self.processes) if p.pid}

    def start(self, timeout_s: float) -> dict[str, Any]:
        """Start the workers and wait until every client is connected (or failed)."""
        for process, theirs in zip(self.processes, self._theirs, strict=True):
            process.start()
            theirs.close()  # the worker holds the only other end: its exit reads as EOF
        self._theirs.clear()
        t0 = time.monotonic()
        statuses = self._gather("ready", timeout_s)
        status = _merge_status(statuses)
        status["connect_s"] = round(time.monotonic() - t0, 1)
        return status

    def status(self) -> dict[str, Any]:
        """Open connections and closes, over all workers."""
        self._broadcast(("status",))
        return _merge_status(self._gather("status", 30))

    def run_step(
        self,
        rate: float,
        duration_s: float,
        *,
        on_tick: Callable[[dict[str, int]], None],
        on_start: Callable[[], None],
        on_end: Callable[[], None],
    ) -> list[dict[str, Any]]:
        """Offer `rate` alerts/s for `duration_s`, then collect every worker's record.

        `on_start` and `on_end` are called when the sending window opens and closes
        (to measure CPU over that window), `on_tick` with the workers' counters.
        """
        self.step += 1
        workers = len(self.processes)
        start_ns = time.monotonic_ns() + int(0.5e9)
        end_ns = start_ns + int(duration_s * 1e9)
        max_alerts = int(rate * duration_s * 2 / workers) + 100
        self._broadcast(
            ("run", StepSpec(self.step, rate / workers, start_ns, duration_s, max_alerts))
        )
        totals: dict[int, dict[str, int]] = {}
        sent: set[int] = set()
        boundaries = [(start_ns, on_start), (end_ns, on_end)]
        deadline = time.monotonic() + duration_s + DRAIN_S + 30
        while (len(sent) < workers or boundaries) and time.monotonic() < deadline:
            while boundaries and time.monotonic_ns() >= boundaries[0][0]:
                boundaries.pop(0)[1]()
            until_next = (boundaries[0][0] - time.monotonic_ns()) / 1e9 if boundaries else 0.2
            for pipe in wait(self.pipes, timeout=max(0.0, min(0.2, until_next))):
                kind, payload = pipe.recv()  # type: ignore[union-attr]
                index = self.pipes.index(pipe)  # type: ignore[arg-type]
                if kind == "progress":
                    totals[index] = payload
                    on_tick({k: sum(t[k] for t in totals.values()) for k in payload})
                elif kind == "sent":
                    sent.add(index)
        self._broadcast(("collect", self.step))
        return self._gather("result", DRAIN_S + 30)

    def stop(self) -> None:
        """Close every client and end the workers."""
        with contextlib.suppress(OSError):
            self._broadcast(("stop",))
        for process in self.processes:
            if process.pid is None:  # never started
                continue
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _broadcast(self, message: tuple[Any, ...]) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def _gather(self, kind: str, timeout_s: float) -> list[Any]:
        """One `kind` answer from every worker within `timeout_s`; a dead worker fails at once."""
        out: dict[int, Any] = {}
        deadline = time.monotonic() + timeout_s
        while len(out) < len(self.pipes):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"workers did not answer {kind!r} within {timeout_s:g}s")
            waiting = [i for i in range(len(self.pipes)) if i not in out]
            sentinels = [self.processes[i].sentinel for i in waiting]
            wait([self.pipes[i] for i in waiting] + sentinels, timeout=left)
            for i in waiting:
                process = self.processes[i]
                try:
                    if self.pipes[i].poll():
                        got, payload = self.pipes[i].recv()
                        if got == kind:
                            out[i] = payload
                        continue
                except (EOFError, OSError):
                    pass  # the worker is gone (or going): its exit code says how
                else:
                    if process.is_alive():
                        continue
                process.join(5)
                raise RuntimeError(f"worker {i} died (exit code {process.exitcode})")
        return [out[i] for i in range(len(self.pipes))]


def _merge_status(statuses: Iterable[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"open": Counter(), "closes": Counter(), "connect_errors": Counter()}
    merged.update(other_messages=0, late=0)
    for status in statuses:
        for key in ("open", "closes", "connect_errors"):
            merged[key].update(status[key])
        merged["other_messages"] += status["other_messages"]
        merged["late"] += status["late"]
    for key in ("open", "closes", "connect_errors"):
        merged[key] = dict(merged[key])
    merged["connected"] = sum(merged["open"].values())
    return merged


def account(plan: TownPlan, results: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    """Match every acked alert's expected recipients against what they received."""
    layout = plan.layout
    units_of_sector: dict[int, list[str]] = {}
    for unit, sector in enumerate(layout.unit_sector):
        units_of_sector.setdefault(sector, []).append(f"u{unit}")
    consoles = [f"k{k}" for k in range(plan.consoles)]
    got: dict[str, set[int]] = {}
    for result in results:
        for peer, keys in result["got"].items():
            got.setdefault(peer, set()).update(keys)
    sent = acked = expected = matched = 0
    missing: list[dict[str, Any]] = []
    for result in results:
        for key, cell, ack in zip(result["keys"], result["cells"], result["ack_ns"], strict=True):
            sent += 1
            if ack < 0:
                continue
            acked += 1
            for peer in consoles + units_of_sector.get(layout.cell_sector[cell], []):
                expected += 1
                if key in got.get(peer, ()):
                    matched += 1
                elif len(missing) < 10:
                    missing.append({"recipient": peer, "alert": key, "cell": layout.cells[cell]})
    received = sum(len(keys) for keys in got.values())
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
    lost_deliveries = expected - matched
    return {
        "alerts": {"sent": sent, "acked": acked, "refused": dict(errors),
                   "unacked": sent - acked - sum(errors.values())},
        "deliveries": {"expected": expected, "received": matched, "lost": lost_deliveries,
                       "duplicates": sum(r["duplicates"] for r in results),
                       "extra": received - matched, "missing_examples": missing},
        "lost": (sent - acked) + lost_deliveries,
        "achieved_rate": round(acked / duration_s, 1),
        "deliveries_per_s": round(received / duration_s, 1),
        "latency_ms": {
            "submit_to_ack": summarize(_cat(r["ack_ns"] for r in results), positive=True),
            "submit_to_unit": summarize(_cat(r["latency"]["unit"] for r in results)),
            "submit_to_console": summarize(_cat(r["latency"]["console"] for r in results)),
        },
        "generator_lag_ms": summarize(_cat(r["lag_ns"] for r in results)),
    }  # fmt: skip


def _cat(arrays: Iterable[array.array[int]]) -> array.array[int]:
    out = array.array("q")
    for a in arrays:
        out.extend(a)
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit("bench.town is a library; run scripts/bench_town.py")
