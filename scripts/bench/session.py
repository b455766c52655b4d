"""One benchmark run: Redis and hub up, a town connected, steps measured, results written."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.probe import DurableWriteProbe
from bench.report import (
    Progress,
    print_profile,
    print_table,
    profile_summary,
    write_json,
)
from bench.system import (
    CpuMeter,
    Profiler,
    TownUnderTest,
    code_version,
    exit_on_sigterm,
    machine_info,
    raise_open_files_limit,
    rss_bytes,
    town_under_test,
)
from bench.town import Town, TownPlan, account, build_layout

__all__ = ["Run", "add_common_args", "open_run", "print_step"]

DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "bench-results"


def add_common_args(parser: argparse.ArgumentParser, *, workers: int = 2) -> None:
    """Options every benchmark takes."""
    parser.add_argument("--workers", type=int, default=workers, help="load-generator processes")
    parser.add_argument("--codec", choices=("json", "msgpack", "mixed"), default="json")
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="folder for JSON, logs, profiles"
    )
    parser.add_argument("--json", type=Path, help="results file (default: in --results)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record the hub with py-spy (needs `pip install py-spy`) and print its top costs",
    )
    parser.add_argument(
        "--no-aof", action="store_true", help="embedded Redis without its append-only file"
    )
    parser.add_argument(
        "--no-aof-rewrite",
        action="store_true",
        help="embedded Redis keeps its AOF (fsync always) but never rewrites it: "
        "tells the hub's limit from that of a rewrite child sharing the machine's cores",
    )
    parser.add_argument("--seed", type=int, default=1)


@dataclass
class Run:
    """A benchmark run in progress: what it started and what it found."""

    name: str
    args: argparse.Namespace
    tut: TownUnderTest
    started: str
    results: dict[str, Any] = field(default_factory=dict)
    town: Town | None = None
    plan: TownPlan | None = None
    rss_idle: int = 0
    profiler: Profiler | None = None
    progress: Progress = field(default_factory=Progress)

    @property
    def hub_pid(self) -> int:
        """The hub process."""
        return self.tut.hub.pid

    def start_town(
        self, *, citizens: int, units: int, consoles: int, connect_timeout_s: float, **plan: Any
    ) -> dict[str, Any]:
        """Connect the town's clients; returns the connection status."""
        self.rss_idle = rss_bytes(self.hub_pid)
        self.plan = TownPlan(
            url=self.tut.hub.ws_url, secret=self.tut.hub.secret, citizens=citizens, units=units,
            consoles=consoles, layout=build_layout(units), codec=self.args.codec,
            seed=self.args.seed, **plan,
        )  # fmt: skip
        self.town = Town(self.plan, self.args.workers, log=print)
        self.progress.show(
            f"connecting {citizens} citizens, {units} units, {consoles} consoles "
            f"from {self.args.workers} processes...",
            force=True,
        )
        self.progress.done()
        status = self.town.start(connect_timeout_s)
        status["hub_sessions"] = self.tut.hub.health().get("sessions", {})
        return status

    def with_layout(self, **changes: Any) -> None:
        """Adjust the plan before `start_town` creates the workers (fan-out uses it)."""
        assert self.plan is not None
        self.plan = replace(self.plan, **changes)

    def cpu_meter(self) -> CpuMeter:
        """A meter over the hub, Redis and every generator process."""
        pids = {"hub": self.hub_pid, "redis": self.tut.redis_pid}
        if self.town is not None:
            pids.update(self.town.pids)
        return CpuMeter(pids)

    def step(self, rate: float, duration_s: float) -> dict[str, Any]:
        """One load step at `rate` alerts/s: accounting, latency, CPU, RSS."""
        assert self.town is not None and self.plan is not None
        meter = self.cpu_meter()
        cpu: dict[str, float] = {}

        def tick(totals: dict[str, int]) -> None:
            rss_mib = rss_bytes(self.hub_pid) / 2**20
            self.progress.show(
                f"  {rate:7.0f}/s offered | sent {totals['sent']:7d} | acked {totals['acked']:7d}"
                f" | pushes {totals['pushes']:8d} | hub RSS {rss_mib:6.1f} MiB"
            )

        rewrites = self.aof_rewrites()
        probe = DurableWriteProbe(self.tut.redis_url)
        floor: dict[str, Any] = {}

        def start() -> None:
            meter.start()
            probe.start()

        def end() -> None:
            cpu.update(meter.percent())
            floor.update(probe.stop())

        try:
            raw = self.town.run_step(rate, duration_s, on_tick=tick, on_start=start, on_end=end)
        finally:
            probe.stop()  # idempotent: ends the thread when the step failed before its end
        self.progress.done()
        report = {"offered_rate": rate, "duration_s": duration_s}
        report.update(account(self.plan, raw, duration_s))
        # Beside the hub's paths: one durable write alone on the same Redis, same moment.
        report["latency_ms"]["durable_write_alone"] = floor
        report["cpu_percent"] = _cpu_view(cpu)
        # A rewrite of the append-only file forks Redis and serializes the whole
        # dataset: on a small machine its child takes a core from the hub and the
        # generators, which shows in the step's tail (docs/performance.md).
        report["aof_rewrites"] = self.aof_rewrites() - rewrites
        report.update(self.memory())
        return report

    def aof_rewrites(self) -> int:
        """How many times Redis has rewritten its append-only file since it started."""
        from redis import Redis

        client = Redis.from_url(self.tut.redis_url)
        try:
            return int(client.info("persistence").get("aof_rewrites", 0))
        finally:
            client.close()

    def memory(self) -> dict[str, Any]:
        """Hub RSS now, and per connected session above the idle hub's RSS."""
        rss = rss_bytes(self.hub_pid)
        sessions = sum(self.tut.hub.health().get("sessions", {}).values())
        per = (rss - self.rss_idle) / sessions if sessions else 0.0
        return {
            "hub_rss_mib": round(rss / 2**20, 1),
            "hub_rss_idle_mib": round(self.rss_idle / 2**20, 1),
            "hub_sessions": sessions,
            "rss_per_connection_kib": round(per / 1024, 2),
        }

    def start_profile(self) -> None:
        """Start py-spy on the hub if --profile was given."""
        if self.args.profile:
            out = self.args.results / f"{self.name}-{self.started}.pyspy.txt"
            self.profiler = Profiler(self.hub_pid, out)
            self.profiler.start()

    def stop_profile(self) -> None:
        """Stop py-spy and put its summary in the results."""
        if self.profiler is None:
            return
        self.profiler.stop()
        out = self.profiler.out
        if out.exists():
            summary = profile_summary(out)
            self.results["profile"] = {"file": str(out), **summary}
            print_profile(summary, out)
        self.profiler = None

    def write(self) -> Path:
        """Write the JSON results; returns the path."""
        path = self.args.json or self.args.results / f"{self.name}-{self.started}.json"
        write_json(path, self.results)
        return path


@contextlib.contextmanager
def open_run(name: str, args: argparse.Namespace, params: dict[str, Any]) -> Iterator[Run]:
    """Redis and a hub for one benchmark; the town (if any) and both stop on exit."""
    exit_on_sigterm()
    limit = raise_open_files_limit()
    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    with town_under_test(
        args.results, aof=not args.no_aof, aof_rewrite=not args.no_aof_rewrite
    ) as tut:
        run = Run(name, args, tut, started)
        run.results = {
            "benchmark": name,
            "started": started,
            "machine": machine_info(),
            "code": code_version(),
            "open_files_limit": limit,
            "params": params,
        }
        try:
            yield run
        finally:
            run.stop_profile()
            if run.town is not None:
                run.town.stop()
            time.sleep(0.1)


def _cpu_view(cpu: dict[str, float]) -> dict[str, float]:
    generators = sum(v for k, v in cpu.items() if k.startswith("generator"))
    return {
        "hub": cpu.get("hub", 0.0),
        "redis": cpu.get("redis", 0.0),
        "generators": round(generators, 1),
    }


def print_step(report: dict[str, Any], title: str) -> None:
    """The table of one step."""
    from bench.report import latency_rows

    alerts, deliveries = report["alerts"], report["deliveries"]
    print_table(
        title,
        [
            ["offered rate (alerts/s)", report["offered_rate"]],
            ["alerts sent", alerts["sent"]],
            ["alerts acked", alerts["acked"]],
            ["alerts refused", sum(alerts["refused"].values())],
            ["expected deliveries", deliveries["expected"]],
            ["received", deliveries["received"]],
            ["lost (unacked + missing deliveries)", report["lost"]],
            ["duplicates", deliveries["duplicates"]],
            ["extra (position coverage)", deliveries["extra"]],
            ["deliveries/s", report["deliveries_per_s"]],
            ["hub CPU % of a core", report["cpu_percent"]["hub"]],
            ["Redis CPU % of a core", report["cpu_percent"]["redis"]],
            ["generators CPU % (all)", report["cpu_percent"]["generators"]],
            ["Redis AOF rewrites", report["aof_rewrites"]],
            ["hub RSS MiB", report["hub_rss_mib"]],
            ["hub RSS per connection KiB", report["rss_per_connection_kib"]],
            ["generator lag p99 ms", report["generator_lag_ms"].get("p99", "-")],
        ],
        ["figure", "value"],
    )
    print_table(
        "latency (ms)",
        latency_rows(report["latency_ms"]),
        ["path", "n", "p50", "p95", "p99", "max"],
    )
