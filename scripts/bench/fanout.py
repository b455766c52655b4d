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
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from bench.report import summarize
from bench.system import raise_open_files_limit
from bench.wsclient import WsClient, open_client

__all__ = ["FanoutPlan", "run_fanout", "serve_baseline"]

TENANT = "narbonne"
LATENCY_EVERY = 10  # every 10th recipient records latencies (memory stays small)
DRAIN_S = 10.0
CONNECT_CONCURRENCY = 50


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
    """One receiving socket: checks order, counts, times."""

    __slots__ = (
        "dups", "gaps", "index", "last", "last_ns", "latency", "on_seq", "unique", "waiter", "ws",
    )  # fmt: skip

    def __init__(self, index: int) -> None:
        self.index = index
        self.ws: WsClient | None = None
        self.last = 0
        self.unique = 0
        self.dups = 0
        self.gaps = 0
        self.last_ns = 0
        self.latency: array.array[int] | None = (
            array.array("q") if index % LATENCY_EVERY == 0 else None
        )
        self.on_seq: Callable[[int], None] | None = None
        self.waiter: asyncio.Future[dict[str, Any]] | None = None

    def on_message(self, opcode: int, payload: bytes) -> None:
        """Frame callback."""
        now = time.monotonic_ns()
        message = orjson.loads(payload)
        if not isinstance(message, dict) or message.get("type") != "incident":
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(message if isinstance(message, dict) else {"type": message})
            return
        text = message["incident"]["text"]
        if not text.startswith("bench:"):
            return
        _, seq_s, sent_s = text.split(":")
        seq = int(seq_s)
        if seq <= self.last:
            self.dups += 1
            return
        if seq != self.last + 1:
            self.gaps += 1
        self.last = seq
        self.unique += 1
        self.last_ns = now
        if self.latency is not None:
            self.latency.append(now - int(sent_s))
        if self.on_seq is not None:
            self.on_seq(seq)

    def expect(self) -> asyncio.Future[dict[str, Any]]:
        """The next non-event message."""
        self.waiter = asyncio.get_running_loop().create_future()
        return self.waiter


async def _connect_recipient(plan: FanoutPlan, r: Recipient) -> None:
    subprotocol = "vigie.v1.json" if plan.mode == "hub" else None
    r.ws = await open_client(plan.url, subprotocol)
    r.ws.on_message = r.on_message
    if plan.mode == "baseline":
        ready = r.expect()
        r.ws.send_text(b"sub")
        await asyncio.wait_for(ready, 30)
        return
    import h3

    from clients.tokens import mint_token

    token = mint_token(plan.secret, role="unit", sub=f"u{r.index}", tenant=TENANT, ttl_s=3600)
    welcome = r.expect()
    r.ws.send_text(orjson.dumps({"type": "hello", "token": token}))
    for _ in range(10):  # welcome, snapshot, then the reply to cover
        message = await asyncio.wait_for(welcome, 30)
        if message.get("type") == "snapshot":
            sector = str(h3.cell_to_parent(plan.cell, 7))
            welcome = r.expect()
            r.ws.send_text(orjson.dumps({"type": "cover", "ref": "cover", "cells": [sector]}))
            continue
        if message.get("ref") == "cover":
            if message.get("type") != "ok":
                raise RuntimeError(f"cover refused: {message}")
            return
        welcome = r.expect()
    raise RuntimeError("unit setup did not finish")


class Publisher:
    """Sends events, at most `window` ahead of the sentinel recipient."""

    def __init__(self, plan: FanoutPlan, sentinel: Recipient) -> None:
        self.plan = plan
        self.sentinel = sentinel
        self.ws: WsClient | None = None
        self.progress = asyncio.Event()
        sentinel.on_seq = lambda seq: self.progress.set()
        self.template = event_template(plan.cell)
        self.acks: asyncio.Future[dict[str, Any]] | None = None

    async def connect(self) -> None:
        """Open the publisher's session (a citizen for the hub)."""
        plan = self.plan
        if plan.mode == "baseline":
            self.ws = await open_client(plan.url, None)
            self.ws.send_text(b"pub")
            return
        from clients.tokens import mint_token

        self.ws = await open_client(plan.url, "vigie.v1.json")
        welcomed = asyncio.get_running_loop().create_future()

        def on_message(opcode: int, payload: bytes) -> None:
            if not welcomed.done():
                welcomed.set_result(orjson.loads(payload))

        self.ws.on_message = on_message
        token = mint_token(plan.secret, role="citizen", sub="publisher", tenant=TENANT)
        self.ws.send_text(orjson.dumps({"type": "hello", "token": token}))
        await asyncio.wait_for(welcomed, 30)

    def _frame(self, seq: int) -> bytes:
        text = f"bench:{seq}:{time.monotonic_ns()}"
        if self.plan.mode == "baseline":
            self.template["incident"]["text"] = text
            return orjson.dumps(self.template)
        import h3

        lat, lon = h3.cell_to_latlng(self.plan.cell)
        return orjson.dumps(
            {"type": "alert.submit", "ref": f"f{seq}", "category": "noise", "lat": lat,
             "lon": lon, "text": text}
        )  # fmt: skip

    async def run(self, start_ns: int) -> tuple[int, int]:
        """Publish until the duration or max_events; returns (events, first send ns)."""
        assert self.ws is not None
        await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        end_ns = start_ns + int(self.plan.duration_s * 1e9)
        first = time.monotonic_ns()
        seq = 0
        while seq < self.plan.max_events and time.monotonic_ns() < end_ns:
            if seq - self.sentinel.last >= self.plan.window:
                self.progress.clear()
                try:
                    await asyncio.wait_for(self.progress.wait(), DRAIN_S)
                except TimeoutError:
                    break  # the sentinel stopped receiving: report what we have
                continue
            seq += 1
            self.ws.send_text(self._frame(seq))
        return seq, first


async def _worker(plan: FanoutPlan, index: int, conn: Connection) -> None:
    mine = [Recipient(i) for i in range(index, plan.recipients, plan.workers)]
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(r: Recipient) -> None:
        async with limit:
            await _connect_recipient(plan, r)

    await asyncio.gather(*(connect(r) for r in mine))
    publisher = Publisher(plan, mine[0]) if index == 0 else None
    if publisher is not None:
        await publisher.connect()
    conn.send(("ready", len(mine)))
    start_ns = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    events, first_ns = (0, 0)
    if publisher is not None:
        events, first_ns = await publisher.run(start_ns)
        conn.send(("published", events))
    else:
        await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9 + plan.duration_s))
    events = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    deadline = time.monotonic() + DRAIN_S
    # Bounded poll for the last frames: cheaper than an event per recipient.
    while time.monotonic() < deadline and any(r.last < events for r in mine):  # noqa: ASYNC110
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
    for r in mine:
        if r.ws is not None:
            r.ws.close()
    if publisher is not None and publisher.ws is not None:
        publisher.ws.close()
    await asyncio.sleep(0.2)


def worker_main(plan: FanoutPlan, index: int, conn: Connection) -> None:
    """Entry point of a fan-out worker process."""
    raise_open_files_limit()
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_worker(plan, index, conn))


def run_fanout(
    plan: FanoutPlan,
    *,
    on_start: Callable[[dict[str, int]], None],
    on_end: Callable[[], None],
) -> dict[str, Any]:
    """Run the workers against `plan.url`; returns the accounting.

    `on_start(worker pids)` and `on_end()` bracket the publishing window.
    """
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for index in range(plan.workers):
        ours, theirs = context.Pipe()
        process = context.Process(target=worker_main, args=(plan, index, theirs), daemon=True)
        process.start()
        pipes.append(ours)
        processes.append(process)
    try:
        t0 = time.monotonic()
        connected = sum(_expect(pipe, "ready", 300) for pipe in pipes)
        connect_s = time.monotonic() - t0
        start_ns = time.monotonic_ns() + int(0.5e9)
        for pipe in pipes:
            pipe.send(start_ns)
        time.sleep(0.5)
        on_start({f"generator{i}": p.pid for i, p in enumerate(processes) if p.pid})
        events = _expect(pipes[0], "published", plan.duration_s + DRAIN_S + 60)
        on_end()
        for pipe in pipes:
            pipe.send(events)
        results = [_expect(pipe, "result", DRAIN_S + 60) for pipe in pipes]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    return _account(plan, events, connected, connect_s, results)


def _expect(pipe: Connection, kind: str, timeout_s: float) -> Any:
    if not pipe.poll(timeout_s):
        raise TimeoutError(f"fan-out worker did not send {kind!r} within {timeout_s:g}s")
    got, payload = pipe.recv()
    if got != kind:
        raise RuntimeError(f"fan-out worker sent {got!r}, expected {kind!r}")
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


def serve_baseline(port: int, ready: Any) -> None:
    """The baseline server process: websockets + broadcast, nothing else."""
    raise_open_files_limit()
    import uvloop
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

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**16):
            ready.set()
            await asyncio.Future()

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main())
