"""Fan-out: one event to N recipients, as fast as possible, hub against a bare baseline.

The baseline is the least a Python WebSocket server can do for the same job: a
`websockets` server whose publisher connection's every message is passed to
`websockets.broadcast` over the subscribers (no Redis, no routing, no outbox).
The hub does the whole path: a citizen's `alert.submit` → Lua script → tenant
stream → the process's reader → routing to the units covering the cell →
their outboxes → their sockets.

Both are driven the same way: a publisher keeps at most `window` events ahead
of a sentinel recipient (recipient 0, in the publisher's process), so queues
stay bounded and nothing is dropped for being slow; every recipient checks
the sequence numbers it gets (in order, no gap, no duplicate); deliveries/s is
unique deliveries over the time from the first send to the last receipt.

The publisher sends its events over `publishers` connections in turn (lanes),
each lane numbering its own events: the hub reads a session's messages one at
a time (a reply in order, then the next), and each `alert.submit` waits for a
durable write. Through one connection the hub's loop would sit idle for every
fsync, and the benchmark would time one session's submit round trip instead of
the fan-out (measured: `--publishers 1`). Order is checked per lane, since two
sessions' submits may reach the stream in either order.

Every wait is bounded, and a worker that fails sends its traceback to the
coordinator before exiting, so a broken run ends within seconds with the
reason instead of waiting out a timeout.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import math
import multiprocessing
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import orjson

from bench.report import summarize
from bench.system import raise_open_files_limit
from bench.wsclient import WsClient, open_client

__all__ = [
    "BaselineServer",
    "FanoutPlan",
    "Recipient",
    "WorkerFailed",
    "close_share",
    "connect_recipient",
    "connect_share",
    "expect_all",
    "from_coordinator",
    "run_fanout",
    "run_worker",
    "serve_baseline",
    "spawn_workers",
    "stop_workers",
]

TENANT = "narbonne"
LATENCY_EVERY = 10  # every 10th recipient records latencies (memory stays small)
DRAIN_S = 10.0
CONNECT_CONCURRENCY = 50
SETUP_TIMEOUT_S = 20.0  # one socket: connect, hello → welcome → snapshot, cover → ok
SPAWN_S = 20.0  # a spawned worker imports its modules before connecting anything
MARGIN_S = 30.0  # coordinator's slack over a worker's own bound


class WorkerFailed(RuntimeError):
    """A fan-out process reported an error, exited, or went silent past its bound."""


@dataclass(frozen=True, slots=True)
class FanoutPlan:
    """One fan-out run, as each worker process sees it."""

    mode: str  # "hub" or "baseline"
    url: str
    recipients: int
    workers: int
    window: int
    duration_s: float
    max_events: int
    cell: str
    secret: str = ""
    publishers: int = 1  # connections the events are sent over, in turn (lanes)


def event_template(cell: str) -> dict[str, Any]:
    """An incident event shaped like the hub's (same keys, similar size)."""
    now = time.time_ns() // 1_000_000
    return {
        "type": "incident",
        "incident": {
            "id": "in1", "category": "noise", "priority": 4, "score": 40.0, "cell": cell,
            "lat": 43.1839, "lon": 3.0042, "status": "open", "reports": 1, "reporters": 1,
            "text": "", "opened_at": now, "updated_at": now,
        },
        "stream": "events", "offset": f"{now}-0",
    }  # fmt: skip


class Recipient:
    """One receiving socket: checks order (per lane), counts, times."""

    __slots__ = (
        "control", "dups", "gaps", "index", "last", "last_ns", "latency", "on_seq", "unique", "ws",
    )  # fmt: skip

    def __init__(self, index: int, lanes: int = 1) -> None:
        self.index = index
        self.ws: WsClient | None = None
        self.last = [0] * lanes  # the last sequence number seen, per publisher lane
        self.unique = 0
        self.dups = 0
        self.gaps = 0
        self.last_ns = 0
        self.latency: array.array[int] | None = (
            array.array("q") if index % LATENCY_EVERY == 0 else None
        )
        self.on_seq: Callable[[int], None] | None = None
        # Non-event messages (welcome, snapshot, replies), in arrival order, while the
        # socket is being set up; None afterwards (they are then ignored). A queue,
        # not one future re-armed per message: two frames read in one go (welcome
        # and snapshot, when the worker is busy) would lose the second.
        self.control: asyncio.Queue[dict[str, Any]] | None = asyncio.Queue()

    def on_message(self, opcode: int, payload: bytes) -> None:
        """Frame callback."""
        now = time.monotonic_ns()
        message = orjson.loads(payload)
        if not isinstance(message, dict) or message.get("type") != "incident":
            if self.control is not None:
                self.control.put_nowait(message if isinstance(message, dict) else {"type": message})
            return
        text = message["incident"]["text"]
        if not text.startswith("bench:"):
            return
        _, lane_s, seq_s, sent_s = text.split(":")
        lane, seq = int(lane_s), int(seq_s)
        last = self.last[lane]
        if seq <= last:
            self.dups += 1
            return
        if seq != last + 1:
            self.gaps += 1
        self.last[lane] = seq
        self.unique += 1
        self.last_ns = now
        if self.latency is not None:
            self.latency.append(now - int(sent_s))
        if self.on_seq is not None:
            self.on_seq(self.unique)

    async def next_control(self) -> dict[str, Any]:
        """The next non-event message (the caller bounds the wait)."""
        assert self.control is not None
        return await self.control.get()


async def connect_recipient(plan: FanoutPlan, r: Recipient) -> None:
    """Connect one recipient and set it up, within SETUP_TIMEOUT_S."""
    step = "connect"
    seen: list[str] = []
    try:
        async with asyncio.timeout(SETUP_TIMEOUT_S):
            r.ws = await open_client(plan.url, "vigie.v1.json" if plan.mode == "hub" else None)
            r.ws.on_message = r.on_message
            step = "subscribe" if plan.mode == "baseline" else "hello, cover"
            if plan.mode == "baseline":
                r.ws.send_text(b"sub")
                seen.append(str((await r.next_control()).get("type")))
            else:
                await _set_up_unit(plan, r, seen)
    except TimeoutError:
        raise WorkerFailed(
            f"recipient {r.index} ({plan.mode}): not set up within {SETUP_TIMEOUT_S:g}s "
            f"(step {step!r}; non-event messages received: {seen or 'none'})"
        ) from None
    finally:
        r.control = None  # from now on only events matter


async def _set_up_unit(plan: FanoutPlan, r: Recipient, seen: list[str]) -> None:
    """hello → welcome, snapshot; cover → ok. `seen` gets every reply's type."""
    import h3

    from hub.core.tokens import issue_token

    assert r.ws is not None
    token = issue_token(plan.secret, role="unit", sub=f"u{r.index}", tenant=TENANT, ttl_s=3600)
    r.ws.send_text(orjson.dumps({"type": "hello", "token": token}))
    while True:
        message = await r.next_control()
        seen.append(str(message.get("type")))
        if message.get("type") == "snapshot":
            sector = str(h3.cell_to_parent(plan.cell, 7))
            r.ws.send_text(orjson.dumps({"type": "cover", "ref": "cover", "cells": [sector]}))
        elif message.get("ref") == "cover":
            if message.get("type") != "ok":
                raise WorkerFailed(f"recipient {r.index}: cover refused: {message}")
            return
        elif message.get("type") == "error" or len(seen) > 10:
            raise WorkerFailed(f"recipient {r.index}: unexpected setup reply {message}")


class Publisher:
    """Sends events over `plan.publishers` lanes in turn, at most `window` ahead of
    the sentinel recipient."""

    def __init__(self, plan: FanoutPlan, sentinel: Recipient) -> None:
        self.plan = plan
        self.sentinel = sentinel
        self.lanes: list[WsClient] = []
        self.progress = asyncio.Event()
        sentinel.on_seq = lambda seq: self.progress.set()
        self.template = event_template(plan.cell)
        self.acks: asyncio.Future[dict[str, Any]] | None = None

    async def connect(self) -> None:
        """Open the publisher's sessions (citizens for the hub), within SETUP_TIMEOUT_S."""
        try:
            async with asyncio.timeout(SETUP_TIMEOUT_S):
                for lane in range(max(1, self.plan.publishers)):
                    self.lanes.append(await self._connect(lane))
        except TimeoutError:
            raise WorkerFailed(
                f"publisher ({self.plan.mode}): no session within {SETUP_TIMEOUT_S:g}s"
            ) from None

    async def _connect(self, lane: int) -> WsClient:
        plan = self.plan
        if plan.mode == "baseline":
            ws = await open_client(plan.url, None)
            ws.send_text(b"pub")
            return ws
        from hub.core.tokens import issue_token

        ws = await open_client(plan.url, "vigie.v1.json")
        welcomed = asyncio.get_running_loop().create_future()

        def on_message(opcode: int, payload: bytes) -> None:
            if not welcomed.done():
                welcomed.set_result(orjson.loads(payload))

        ws.on_message = on_message
        token = issue_token(plan.secret, role="citizen", sub=f"publisher{lane}", tenant=TENANT)
        ws.send_text(orjson.dumps({"type": "hello", "token": token}))
        welcome = await welcomed
        if welcome.get("type") != "welcome":
            raise WorkerFailed(f"publisher {lane}: expected a welcome, got {welcome}")
        return ws

    def close(self) -> None:
        """Close every lane."""
        for ws in self.lanes:
            ws.close()

    def _frame(self, seq: int) -> tuple[WsClient, bytes]:
        """Event `seq` (1, 2, ...): its lane, in turn, and the frame, numbered in its lane."""
        lane, lane_seq = (seq - 1) % len(self.lanes), (seq - 1) // len(self.lanes) + 1
        text = f"bench:{lane}:{lane_seq}:{time.monotonic_ns()}"
        ws = self.lanes[lane]
        if self.plan.mode == "baseline":
            self.template["incident"]["text"] = text
            return ws, orjson.dumps(self.template)
        import h3

        lat, lon = h3.cell_to_latlng(self.plan.cell)
        return ws, orjson.dumps(
            {"type": "alert.submit", "ref": f"f{seq}", "category": "noise", "lat": lat,
             "lon": lon, "text": text}
        )  # fmt: skip

    async def run(self, start_ns: int) -> tuple[int, int]:
        """Publish until the duration or max_events; returns (events, first send ns)."""
        assert self.lanes
        await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        end_ns = start_ns + int(self.plan.duration_s * 1e9)
        first = time.monotonic_ns()
        seq = 0
        while seq < self.plan.max_events and time.monotonic_ns() < end_ns:
            if seq - self.sentinel.unique >= self.plan.window:
                self.progress.clear()
                try:
                    await asyncio.wait_for(self.progress.wait(), DRAIN_S)
                except TimeoutError:
                    break  # the sentinel stopped receiving: report what we have
                continue
            seq += 1
            ws, frame = self._frame(seq)
            ws.send_text(frame)
        return seq, first


def ready_timeout_s(plan: FanoutPlan) -> float:
    """How long connecting a worker's recipients may take at most.

    Each recipient's setup is bounded by SETUP_TIMEOUT_S and they are set up
    CONNECT_CONCURRENCY at a time, so a worker has failed by itself before this.
    """
    waves = math.ceil(math.ceil(plan.recipients / plan.workers) / CONNECT_CONCURRENCY)
    return SPAWN_S + SETUP_TIMEOUT_S * (waves + 1)  # + 1: the publisher


def publish_timeout_s(plan: FanoutPlan) -> float:
    """How long publishing may take at most (it stops at the first DRAIN_S stall)."""
    return 0.5 + plan.duration_s + DRAIN_S + 5.0


async def from_coordinator(conn: Connection, what: str, timeout_s: float) -> Any:
    """The coordinator's next message, within `timeout_s` (EOFError if it is gone)."""
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout_s):
        raise WorkerFailed(f"no {what} from the coordinator within {timeout_s:g}s")
    return conn.recv()


async def connect_share(plan: FanoutPlan, index: int) -> list[Recipient]:
    """Worker `index`'s share of the recipients, connected and set up
    (CONNECT_CONCURRENCY at a time)."""
    mine = [Recipient(i, plan.publishers) for i in range(index, plan.recipients, plan.workers)]
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(r: Recipient) -> None:
        async with limit:
            await connect_recipient(plan, r)

    await asyncio.gather(*(connect(r) for r in mine))
    return mine


def close_share(recipients: Sequence[Recipient]) -> None:
    """Close every recipient's socket."""
    for r in recipients:
        if r.ws is not None:
            r.ws.close()


async def _worker(plan: FanoutPlan, index: int, conn: Connection) -> None:
    mine = await connect_share(plan, index)
    publisher = Publisher(plan, mine[0]) if index == 0 else None
    if publisher is not None:
        await publisher.connect()
    conn.send(("ready", len(mine)))
    # The other workers may still be connecting: the coordinator waits for them all.
    start_ns = await from_coordinator(conn, "start", ready_timeout_s(plan) + MARGIN_S)
    events, first_ns = (0, 0)
    if publisher is not None:
        events, first_ns = await publisher.run(start_ns)
        conn.send(("published", events))
    else:
        await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9 + plan.duration_s))
    events = await from_coordinator(conn, "event count", publish_timeout_s(plan) + MARGIN_S)
    deadline = time.monotonic() + DRAIN_S
    # Bounded poll for the last frames: cheaper than an event per recipient.
    while time.monotonic() < deadline and any(r.unique < events for r in mine):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    latency = array.array("q")
    for r in mine:
        if r.latency is not None:
            latency.extend(r.latency)
    conn.send(
        (
            "result",
            {
                "recipients": len(mine),
                "unique": sum(r.unique for r in mine),
                "dups": sum(r.dups for r in mine),
                "gaps": sum(r.gaps for r in mine),
                "first_ns": first_ns,
                "last_ns": max((r.last_ns for r in mine), default=0),
                "latency": latency,
            },
        )
    )
    close_share(mine)
    if publisher is not None:
        publisher.close()
    await asyncio.sleep(0.2)


def worker_main(plan: FanoutPlan, index: int, conn: Connection) -> None:
    """Entry point of a fan-out worker process: any failure goes to the coordinator."""
    run_worker(lambda: _worker(plan, index, conn), conn, f"fan-out worker {index}")


def run_worker(main: Callable[[], Coroutine[Any, Any, None]], conn: Connection, who: str) -> None:
    """Run a worker process's `main` on uvloop; any failure goes to the coordinator."""
    raise_open_files_limit()
    import uvloop

    try:
        uvloop.run(main())
    except KeyboardInterrupt:
        return
    except BaseException as exc:
        report_failure(conn, who, exc)
        raise SystemExit(1) from None


def report_failure(conn: Connection, who: str, exc: BaseException) -> None:
    """Send ("error", text) to the coordinator; the text is the traceback, or the
    message alone for a WorkerFailed (it says what was waited for)."""
    if isinstance(exc, WorkerFailed):
        text = f"{who}: {exc}"
    else:
        text = f"{who} failed:\n{''.join(traceback.format_exception(exc)).rstrip()}"
    with contextlib.suppress(OSError, ValueError):
        conn.send(("error", text))


def run_fanout(
    plan: FanoutPlan,
    *,
    on_start: Callable[[dict[str, int]], None],
    on_end: Callable[[], None],
) -> dict[str, Any]:
    """Run the workers against `plan.url`; returns the accounting.

    `on_start(worker pids)` and `on_end()` bracket the publishing window.
    """
    pipes: list[Connection] = []
    processes: list[BaseProcess] = []
    finished = False
    try:
        spawn_workers(worker_main, plan, pipes, processes)
        t0 = time.monotonic()
        connected = sum(expect_all(pipes, processes, "ready", ready_timeout_s(plan)))
        connect_s = time.monotonic() - t0
        start_ns = time.monotonic_ns() + int(0.5e9)
        for pipe in pipes:
            pipe.send(start_ns)
        time.sleep(0.5)
        on_start({f"generator{i}": p.pid for i, p in enumerate(processes) if p.pid})
        (events,) = expect_all(pipes[:1], processes[:1], "published", publish_timeout_s(plan))
        on_end()
        for pipe in pipes:
            pipe.send(events)
        results = expect_all(pipes, processes, "result", DRAIN_S + MARGIN_S)
        finished = True
    finally:
        stop_workers(processes, grace_s=10.0 if finished else 0.0)
        for pipe in pipes:
            pipe.close()
    return _account(plan, events, connected, connect_s, results)


def spawn_workers(
    target: Callable[[FanoutPlan, int, Connection], None],
    plan: FanoutPlan,
    pipes: list[Connection],
    processes: list[BaseProcess],
) -> None:
    """Start `plan.workers` processes, each running `target(plan, index, its pipe)`.

    Each pipe and process is appended as it starts, so that the caller's cleanup
    (`stop_workers`) reaches every one started, however far this got.
    """
    context = multiprocessing.get_context("spawn")
    for index in range(plan.workers):
        ours, theirs = context.Pipe()
        process = context.Process(target=target, args=(plan, index, theirs), daemon=True)
        pipes.append(ours)
        processes.append(process)
        process.start()
        theirs.close()  # the worker holds the only other end: its exit reads as EOF


def stop_workers(processes: Sequence[BaseProcess], grace_s: float) -> None:
    """Let the workers finish for `grace_s` at most; then kill what is left."""
    deadline = time.monotonic() + grace_s
    for process in processes:
        if process.pid is not None:
            process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.pid is not None and process.is_alive():
            process.kill()
            process.join(5)


def expect_all(
    pipes: Sequence[Connection], processes: Sequence[BaseProcess], kind: str, timeout_s: float
) -> list[Any]:
    """One `kind` message from each worker, all within `timeout_s`.

    Raises:
        WorkerFailed: a worker reported an error, exited, or did not answer in time.
    """
    deadline = time.monotonic() + timeout_s
    got: dict[int, Any] = {}
    while len(got) < len(pipes):
        waiting = [i for i in range(len(pipes)) if i not in got]
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkerFailed(
                f"fan-out worker(s) {waiting} did not send {kind!r} within {timeout_s:g}s"
            )
        wait([pipes[i] for i in waiting] + [processes[i].sentinel for i in waiting], left)
        for i in waiting:
            if pipes[i].poll():
                got[i] = _receive(pipes[i], processes[i], f"fan-out worker {i}", kind)
            elif not processes[i].is_alive():
                processes[i].join(1)
                raise WorkerFailed(
                    f"fan-out worker {i} exited (code {processes[i].exitcode}) "
                    f"before sending {kind!r}; see its traceback above"
                )
    return [got[i] for i in range(len(pipes))]


def _receive(pipe: Connection, process: BaseProcess, who: str, kind: str) -> Any:
    """A `kind` message from a child's pipe; its error or its exit raise WorkerFailed."""
    try:
        got, payload = pipe.recv()
    except (EOFError, OSError):
        process.join(1)
        raise WorkerFailed(
            f"{who} exited (code {process.exitcode}) before sending {kind!r}"
        ) from None
    if got == "error":
        raise WorkerFailed(payload)
    if got != kind:
        raise WorkerFailed(f"{who} sent {got!r}, expected {kind!r}")
    return payload


def _account(
    plan: FanoutPlan, events: int, connected: int, connect_s: float, results: list[dict[str, Any]]
) -> dict[str, Any]:
    unique = sum(r["unique"] for r in results)
    first = results[0]["first_ns"]
    last = max(r["last_ns"] for r in results)
    elapsed = max((last - first) / 1e9, 1e-9)
    latency = array.array("q")
    for r in results:
        latency.extend(r["latency"])
    expected = events * connected
    return {
        "recipients": connected,
        "connect_s": round(connect_s, 1),
        "events": events,
        "expected_deliveries": expected,
        "received": unique,
        "lost": expected - unique,
        "duplicates": sum(r["dups"] for r in results),
        "gaps": sum(r["gaps"] for r in results),
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(events / elapsed, 1),
        "deliveries_per_s": round(unique / elapsed, 1),
        "latency_ms": summarize(latency),
    }


class BaselineServer:
    """The baseline server in its own process: `with BaselineServer() as url:`."""

    START_TIMEOUT_S = 30.0

    def __init__(
        self,
        ping_interval_s: float = 20.0,
        target: Callable[[Connection, float], None] | None = None,
    ) -> None:
        # websockets' default keepalive (20 s); the idle baseline pings as the hub does.
        self.ping_interval_s = ping_interval_s
        # The server's process function (default: `serve_baseline`); it sends
        # ("listening", port) on its pipe. The idle floor (bench.heartbeat_floor) is another.
        self.target = target or serve_baseline
        self.process: BaseProcess | None = None
        self._pipe: Connection | None = None

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None and self.process.pid is not None
        return self.process.pid

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe(duplex=False)
        self.process = context.Process(
            target=self.target, args=(theirs, self.ping_interval_s), daemon=True
        )
        try:
            self.process.start()
            theirs.close()
            (port,) = expect_all([self._pipe], [self.process], "listening", self.START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return f"ws://127.0.0.1:{port}/"

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: never left running (nor joined forever)."""
        process = self.process
        if process is not None and process.pid is not None and process.is_alive():
            process.terminate()
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None


def serve_baseline(conn: Connection, ping_interval_s: float = 20.0) -> None:
    """The baseline server process: websockets + broadcast, nothing else.

    It listens on a port the kernel picks and sends ("listening", port) on `conn`
    (a port chosen beforehand could be taken by someone else in between).
    """
    run_worker(lambda: _serve_baseline(conn, ping_interval_s), conn, "baseline server")


async def _serve_baseline(conn: Connection, ping_interval_s: float) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    subscribers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        role = await ws.recv()
        if role == "sub":
            subscribers.add(ws)
            try:
                await ws.send('{"type": "subscribed"}')
                await ws.wait_closed()
            finally:
                subscribers.discard(ws)
            return
        async for message in ws:
            broadcast(subscribers, message)

    async with serve(
        handler, "127.0.0.1", 0, compression=None, max_size=2**16,
        ping_interval=ping_interval_s, ping_timeout=ping_interval_s,
    ) as server:  # fmt: skip
        conn.send(("listening", server.sockets[0].getsockname()[1]))
        conn.close()
        await asyncio.Future()
