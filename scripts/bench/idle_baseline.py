"""Idle baseline: N idle connections held by a bare `websockets` server, for comparison.

The hub's idle figures (RSS per session, CPU at rest) depend as much on the
machine as on the hub: a system call costs three times more on one VM than on
another. This runs the least a Python WebSocket server does for the same job
on the same machine, in the same invocation: the fan-out's baseline server
(`websockets`' asyncio server on uvloop, a task and a keepalive per
connection), pinging every `ping_interval_s` as the hub does, with N lean
clients (`bench.wsclient`, the hub's load generator's) that answer its pings
and send nothing else. Its RSS per connection and its CPU over the idle window
are the floor the hub's are read against. With `floor`, the server is
`bench.heartbeat_floor`'s instead: the pings and pongs' system calls alone,
the floor of any server.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bench.fanout import (
    MARGIN_S,
    BaselineServer,
    FanoutPlan,
    WorkerFailed,
    close_share,
    connect_share,
    expect_all,
    from_coordinator,
    ready_timeout_s,
    run_worker,
    spawn_workers,
    stop_workers,
)
from bench.heartbeat_floor import serve_floor
from bench.report import Progress
from bench.system import CpuMeter, rss_bytes

__all__ = ["IDLE_CPU_DIGITS", "IdlePlan", "run_idle_baseline"]

# Idle CPU, the hub's and this server's, to two decimals: the target is 1 %, and
# one decimal would round 0.96 and 1.04 alike.
IDLE_CPU_DIGITS = 2

SETTLE_S = 1.0  # after the last connection, before the window opens


@dataclass(frozen=True, slots=True)
class IdlePlan:
    """One idle baseline run."""

    connections: int
    workers: int
    idle_s: float
    ping_interval_s: float

    def fanout_plan(self, url: str) -> FanoutPlan:
        """The fan-out plan whose recipient set-up the idle clients reuse (no events)."""
        return FanoutPlan(
            mode="baseline", url=url, recipients=self.connections, workers=self.workers,
            window=1, duration_s=self.idle_s, max_events=0, cell="",
        )  # fmt: skip


def run_idle_baseline(plan: IdlePlan, progress: Progress, *, floor: bool = False) -> dict[str, Any]:
    """Connect the clients, stay idle for `plan.idle_s`, measure the server.

    `floor`: the server is `bench.heartbeat_floor`'s (pings on the hub's wheel, and
    nothing else) instead of the bare `websockets` one; the same clients either way.

    Raises:
        WorkerFailed: a client process failed, or a connection was dropped.
    """
    name = "floor" if floor else "baseline"
    target = serve_floor if floor else None
    server = BaselineServer(ping_interval_s=plan.ping_interval_s, target=target)
    with server as url:
        rss_before = rss_bytes(server.pid)  # listening, no client yet
        fanout = plan.fanout_plan(url)
        pipes: list[Connection] = []
        processes: list[BaseProcess] = []
        try:
            spawn_workers(worker_main, fanout, pipes, processes)
            t0 = time.monotonic()
            connected = sum(expect_all(pipes, processes, "ready", ready_timeout_s(fanout)))
            connect_s = time.monotonic() - t0
            time.sleep(SETTLE_S)
            meter = CpuMeter({"server": server.pid})
            meter.start()
            end = time.monotonic() + plan.idle_s
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(1.0, left))
                progress.show(
                    f"  {name} idle {plan.idle_s - max(left, 0):5.0f}/{plan.idle_s:g} s"
                    f" | server CPU {meter.percent()['server']:5.1f} %"
                )
            progress.done()
            cpu = meter.percent(IDLE_CPU_DIGITS)["server"]
            rss_after = rss_bytes(server.pid)
            for pipe in pipes:
                pipe.send("stop")
            still_open = sum(expect_all(pipes, processes, "result", MARGIN_S))
        finally:
            stop_workers(processes, grace_s=10.0)
            for pipe in pipes:
                pipe.close()
    if still_open != connected:
        raise WorkerFailed(
            f"idle {name}: {connected - still_open} of {connected} connections dropped"
        )
    per = (rss_after - rss_before) / connected if connected else 0.0
    return {
        "connections": connected,
        "connect_s": round(connect_s, 1),
        "ping_interval_s": plan.ping_interval_s,
        "server_rss_idle_mib": round(rss_before / 2**20, 1),
        "server_rss_mib": round(rss_after / 2**20, 1),
        "rss_per_connection_kib": round(per / 1024, 2),
        "idle_cpu_percent": cpu,
        "dropped": connected - still_open,
    }


async def _worker(plan: FanoutPlan, index: int, conn: Connection) -> None:
    mine = await connect_share(plan, index)
    conn.send(("ready", len(mine)))
    await from_coordinator(conn, "stop", ready_timeout_s(plan) + plan.duration_s + MARGIN_S)
    still_open = sum(1 for r in mine if r.ws is not None and not r.ws.closed.done())
    conn.send(("result", still_open))
    close_share(mine)
    await asyncio.sleep(0.2)


def worker_main(plan: FanoutPlan, index: int, conn: Connection) -> None:
    """Entry point of an idle client process: any failure goes to the coordinator."""
    run_worker(lambda: _worker(plan, index, conn), conn, f"idle client worker {index}")
