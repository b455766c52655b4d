#!/usr/bin/env python3
"""Soak: the reference deployment under a steady evening's load, for half an hour.

A primary, a replica and three Sentinels (scripts/bench/replicated.py), two
`vigie serve` processes on `redis+sentinel://` with the default `ack_replicas`
("auto": every ack waits for the replica), 5,000 citizens, 50 moving units and
5 consoles spread over both processes (scripts/bench/town.py), 200 alerts/s,
and the demo's operator (hub/demo/actors.py) acknowledging, dispatching and
closing incidents on a sixth console. One row a minute: hub RSS of each
process, Redis memory, p50/p99 submit → ack and submit → unit, errors, lost;
at the end the slope of each memory curve (least squares, MiB per minute).

    .venv/bin/python scripts/bench_soak.py --minutes 30
    .venv/bin/python scripts/bench_soak.py --minutes 2 --citizens 1000   # a check

Each minute is one step of the load generator: it offers alerts for 60 s,
then counts what every client received (a few seconds without load between
rows). Exit status 1 when anything acked was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis as redis_sync
from bench.replicated import ReplicatedRedis, replicated_redis
from bench.report import print_table, write_json
from bench.session import DEFAULT_RESULTS
from bench.system import (
    CpuMeter,
    HubProcess,
    code_version,
    exit_on_sigterm,
    machine_info,
    raise_open_files_limit,
    rss_bytes,
)
from bench.town import Town, TownPlan, account, build_layout

STEP_S = 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=int, default=30, help="rows (one a minute)")
    p.add_argument("--rate", type=float, default=200.0, help="offered alerts/s")
    p.add_argument("--citizens", type=int, default=5000)
    p.add_argument("--reporting", type=float, default=0.1, help="share of citizens who report")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--consoles", type=int, default=5)
    p.add_argument("--processes", type=int, default=2, help="hub processes")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument("--position-every", type=float, default=5.0, help="seconds between unit fixes")
    p.add_argument("--no-operator", action="store_true", help="without the demo's operator")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--heapwatch", type=Path, default=None, metavar="DIR",
        help="run hub0 under scripts/bench/heapwatch.py (tracemalloc snapshots and object\n"
        "counts each minute into DIR); hub1 stays plain, as the control",
    )  # fmt: skip
    return p.parse_args(argv)


# -- the demo's operator, in a thread of its own --------------------------------------


class OperatorThread:
    """hub.demo.actors.Operator on its own console and event loop (the coordinator blocks)."""

    def __init__(self, url: str, secret: str, seed: int) -> None:
        self.url, self.secret, self.seed = url, secret, seed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="operator", daemon=True)
        self.stats: Any = None
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self) -> None:
        """Connect the operator's console and start working the queue."""
        self.thread.start()

    def stop(self) -> None:
        """Stop the operator and close its console (bounded)."""
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(15)

    def _main(self) -> None:
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as exc:  # reported in the results, never silent
            self.error = exc

    async def _run(self) -> None:
        from clients import Console
        from hub.config import load_config
        from hub.core.tokens import issue_token
        from hub.demo.actors import Operator
        from hub.demo.board import DemoStats, Journal
        from hub.demo.town import Town as DemoTown

        config = load_config(env={})
        tenant = config.tenants["narbonne"]
        town = DemoTown(tenant, config.hub.h3_resolution, random.Random(self.seed))
        token = issue_token(self.secret, sub="operator-1", role="console",
                            tenant=tenant.id, ttl_s=6 * 3600)  # fmt: skip
        self.stats = DemoStats()
        self._stop = asyncio.Event()
        async with Console(self.url, token) as console:
            operator = Operator(console, town, Journal(plain=False), self.stats)
            work = asyncio.create_task(operator.run())
            await self._stop.wait()
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)

    def figures(self) -> dict[str, Any]:
        """What the operator did."""
        if self.stats is None:
            return {"error": repr(self.error)}
        s = self.stats
        return {"dispatched": s.dispatched, "closed": s.closed, "declined_or_expired": s.declined,
                "error": repr(self.error) if self.error else None}  # fmt: skip


# -- sampling ---------------------------------------------------------------------------


def redis_memory(topology: ReplicatedRedis) -> dict[str, float]:
    """used_memory and RSS of the primary the Sentinels name, MiB."""
    port = topology.named_primary() or topology.primary.port
    with redis_sync.Redis("127.0.0.1", port, socket_timeout=5) as client:
        info = client.info("memory")
        keys = client.dbsize()
    return {
        "used_mib": round(info["used_memory"] / 2**20, 1),
        "rss_mib": round(info["used_memory_rss"] / 2**20, 1),
        "keys": keys,
    }


def slope(values: list[float]) -> float:
    """Least-squares slope per row (per minute) of a series."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    den = sum((x - mean_x) ** 2 for x in range(n))
    return num / den


def row(
    minute: int, report: dict[str, Any], hubs: list[HubProcess], mem: dict[str, float]
) -> dict[str, Any]:
    """One row of the table, from a step's accounting."""
    lat = report["latency_ms"]
    refused = report["alerts"]["refused"]
    return {
        "minute": minute,
        "acked": report["alerts"]["acked"],
        "lost": report["lost"],
        "errors": sum(refused.values()),
        "errors_by_code": refused,
        "duplicates": report["deliveries"]["duplicates"],
        "ack_p50": lat["submit_to_ack"].get("p50"),
        "ack_p99": lat["submit_to_ack"].get("p99"),
        "unit_p50": lat["submit_to_unit"].get("p50"),
        "unit_p99": lat["submit_to_unit"].get("p99"),
        "hub_rss_mib": [round(rss_bytes(h.pid) / 2**20, 1) for h in hubs],
        "redis_used_mib": mem["used_mib"],
        "redis_rss_mib": mem["rss_mib"],
        "redis_keys": mem["keys"],
        "cpu": report.get("cpu_percent", {}),
    }


def table_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[object]]]:
    """The soak's table: header and one row a minute."""
    body = [
        [r["minute"], r["acked"], r["lost"], r["errors"], r["duplicates"],
         r["ack_p50"], r["ack_p99"], r["unit_p50"], r["unit_p99"],
         " / ".join(f"{m:.0f}" for m in r["hub_rss_mib"]), r["redis_used_mib"]]
        for r in rows
    ]  # fmt: skip
    header = ["min", "acked", "lost", "errors", "dup", "ack p50", "ack p99", "unit p50",
              "unit p99", "hub RSS MiB", "Redis MiB"]  # fmt: skip
    return header, body


def print_rows(rows: list[dict[str, Any]]) -> None:
    """The soak's table on stdout."""
    header, body = table_rows(rows)
    print_table("soak (one row a minute; latencies in ms)", body, header)


def markdown(results: dict[str, Any]) -> str:
    """The table and the slopes as Markdown, for docs/performance.md."""
    header, body = table_rows(results.get("rows", []))
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    lines += ["", "| curve | slope |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in results.get("slopes_mib_per_minute", {}).items()]
    return "\n".join(lines) + "\n"


def slopes(rows: list[dict[str, Any]], processes: int) -> dict[str, float]:
    """MiB per minute of each memory curve, over the rows after the first (warm-up)."""
    tail = rows[1:] if len(rows) > 2 else rows
    out = {f"hub{i}_rss": round(slope([r["hub_rss_mib"][i] for r in tail]), 3)
           for i in range(processes)}  # fmt: skip
    out["redis_used"] = round(slope([r["redis_used_mib"] for r in tail]), 3)
    out["redis_rss"] = round(slope([r["redis_rss_mib"] for r in tail]), 3)
    # What the growth is: stored alerts and incidents (kept for `retention_days`)
    # and idempotency records (kept `idempotency_ttl_s`), per alert acked.
    acked = sum(r["acked"] for r in tail) / len(tail)
    out["redis_bytes_per_acked_alert"] = round(out["redis_used"] * 2**20 / acked) if acked else 0
    out["redis_keys_per_minute"] = round(slope([r["redis_keys"] for r in tail]))
    return out


# -- the run ------------------------------------------------------------------------------


def soak(args: argparse.Namespace, topology: ReplicatedRedis, results: dict[str, Any]) -> int:
    """Hubs, town and operator up; one step a minute; the table and the slopes."""
    hubs = [HubProcess(topology.url, log_path=args.results / f"soak-hub{i}.log")
            for i in range(args.processes)]  # fmt: skip
    for hub in hubs[1:]:
        hub.secret = hubs[0].secret  # one secret: a token works on every process
    if args.heapwatch is not None:
        hubs[0].launcher = [sys.executable, str(Path(__file__).parent / "bench" / "heapwatch.py")]
        hubs[0].extra_env["VIGIE_HEAPWATCH_DIR"] = str(args.heapwatch.resolve())
    for hub in hubs:
        hub.start()
    operator = (
        None if args.no_operator else OperatorThread(hubs[0].ws_url, hubs[0].secret, args.seed)
    )
    town: Town | None = None
    rows: list[dict[str, Any]] = []
    try:
        plan = TownPlan(
            url=hubs[0].ws_url, urls=tuple(h.ws_url for h in hubs), secret=hubs[0].secret,
            citizens=args.citizens, units=args.units, consoles=args.consoles,
            layout=build_layout(args.units), reporting=args.reporting,
            position_every_s=args.position_every, seed=args.seed,
        )  # fmt: skip
        town = Town(plan, args.workers, log=print)
        status = town.start(300.0)
        results["connect"] = status
        print(f"connected {status['connected']} in {status['connect_s']} s", file=sys.stderr)
        if operator is not None:
            operator.start()
        results["health_start"] = [h.health() for h in hubs]
        for minute in range(1, args.minutes + 1):
            pids = {f"hub{i}": h.pid for i, h in enumerate(hubs)} | town.pids
            meter = CpuMeter(pids)
            raw = town.run_step(args.rate, STEP_S, on_tick=lambda _: None,
                                on_start=meter.start, on_end=lambda: None)  # fmt: skip
            report = account(plan, raw, STEP_S)
            report["cpu_percent"] = meter.percent()
            rows.append(row(minute, report, hubs, redis_memory(topology)))
            r = rows[-1]
            print(f"{dt.datetime.now(dt.UTC):%H:%M:%S} minute {minute}: acked {r['acked']}, "
                  f"lost {r['lost']}, errors {r['errors']}, ack p99 {r['ack_p99']} ms, "
                  f"hub RSS {r['hub_rss_mib']} MiB, Redis {r['redis_used_mib']} MiB",
                  file=sys.stderr, flush=True)  # fmt: skip
            results["rows"] = rows
            write_json(Path(results["path"]), results)
        results["health_end"] = [h.health() for h in hubs]
        results["metrics_end"] = [
            {k: v for k, v in h.metrics().items() if "ack" in k or "errors" in k or "replica" in k}
            for h in hubs
        ]
    finally:
        if operator is not None:
            operator.stop()
            results["operator"] = operator.figures()
        if town is not None:
            town.stop()
        for hub in hubs:
            hub.stop()
    results["slopes_mib_per_minute"] = slopes(rows, args.processes)
    write_json(Path(results["path"]), results)
    print_rows(rows)
    print_table("memory slopes (MiB per minute after minute 1, unless named)",
                list(results["slopes_mib_per_minute"].items()), ["curve", "slope"])  # fmt: skip
    if operator is not None:
        print_table("operator", list(results["operator"].items()), ["figure", "value"])
    return 1 if any(r["lost"] for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    """Start the replicated Redis, soak, stop everything."""
    args = parse_args(argv)
    exit_on_sigterm()
    limit = raise_open_files_limit()
    args.results.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "benchmark": "soak", "started": started, "machine": machine_info(),
        "code": code_version(), "open_files_limit": limit,
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "path": str(args.results / f"soak-{started}.json"),
    }  # fmt: skip
    t0 = time.monotonic()
    # The Sentinels as deployed (docs/deploy.md): 5 s to declare the primary down.
    sentinel_timing = {"down_after_ms": 5000, "failover_timeout_ms": 60000}
    with (
        tempfile.TemporaryDirectory(prefix="vigie-soak-") as tmp,
        replicated_redis(Path(tmp), **sentinel_timing) as topology,
    ):
        results["topology"] = {"url": topology.url, "replicas": len(topology.replicas),
                               "sentinels": len(topology.sentinels)}  # fmt: skip
        status = soak(args, topology, results)
    results["elapsed_s"] = round(time.monotonic() - t0, 1)
    write_json(Path(results["path"]), results)
    Path(results["path"]).with_suffix(".md").write_text(markdown(results))
    print(f"results: {results['path']}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
