#!/usr/bin/env python3
"""Fan-out benchmark: one event to N recipients (default 1,000), as fast as possible.

Each round runs both sides, with the same load-generator code and recipients:
first a minimal baseline written here (a bare `websockets` server calling
`websockets.broadcast`, no Redis), then the hub (`vigie serve` on a fresh
embedded redis-server each round: citizen submit → Lua → stream → routing to
the N units covering the cell). A round's ratio is hub / baseline deliveries/s; the figure is the
median over the rounds (default 3), because on a shared machine one side of a
single pair can be starved by other work (target, issue #10: >= 0.9).

The events go out over `--publishers` connections in turn (4 by default): the
hub answers one session's messages one at a time, each after a durable write,
so through a single connection its loop waits out every fsync and the figure
is one session's submit round trip, not the fan-out (bench/fanout.py).

    .venv/bin/python scripts/bench_fanout.py
    .venv/bin/python scripts/bench_fanout.py --recipients 1000 --duration 10 --rounds 5 --profile
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import h3
from bench.fanout import BaselineServer, FanoutPlan, run_fanout
from bench.report import Progress, check, print_table
from bench.session import Run, add_common_args, open_run
from bench.system import CpuMeter, TownUnderTest, exit_on_sigterm, rss_bytes, town_under_test

TARGET_RATIO = 0.9
CENTRE = (43.1839, 3.0042)  # Narbonne, place de l'Hôtel de Ville


def at_least_one(text: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--recipients", type=int, default=1000)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of publishing")
    p.add_argument("--max-events", type=int, default=100_000, help="stop publishing after")
    p.add_argument("--window", type=int, default=20, help="events ahead of the sentinel")
    p.add_argument(
        "--publishers", type=at_least_one, default=4,
        help="connections the events are sent over in turn (1: the figures before 2026-12-02)",
    )  # fmt: skip
    p.add_argument("--rounds", type=int, default=3, help="baseline-then-hub pairs; median ratio")
    p.add_argument("--skip-baseline", action="store_true")
    add_common_args(p)
    return p.parse_args(argv)


def plan_for(args: argparse.Namespace, mode: str, url: str, secret: str = "") -> FanoutPlan:
    """The fan-out plan of one side."""
    return FanoutPlan(
        mode=mode, url=url, recipients=args.recipients, workers=args.workers, window=args.window,
        duration_s=args.duration, max_events=args.max_events,
        cell=str(h3.latlng_to_cell(*CENTRE, 9)), secret=secret, publishers=args.publishers,
    )  # fmt: skip


def measured(plan: FanoutPlan, pids: dict[str, int], run: Run | None = None) -> dict[str, Any]:
    """Run one side, with CPU (and the hub's profile) taken over the publishing window."""
    meter = CpuMeter(pids)
    cpu: dict[str, float] = {}

    def start(workers: dict[str, int]) -> None:
        meter.pids = {**pids, **workers}
        meter.start()
        if run is not None:
            run.start_profile()

    def end() -> None:
        cpu.update(meter.percent())
        if run is not None:
            run.stop_profile()

    result = run_fanout(plan, on_start=start, on_end=end)
    generators = sum(v for k, v in cpu.items() if k.startswith("generator"))
    result["cpu_percent"] = {
        **{k: v for k, v in cpu.items() if not k.startswith("generator")},
        "generators": round(generators, 1),
    }
    result["server_rss_mib"] = round(rss_bytes(pids["server"]) / 2**20, 1)
    return result


def run_baseline(args: argparse.Namespace) -> dict[str, Any]:
    """The bare websockets + broadcast server, in its own process."""
    server = BaselineServer()
    with server as url:
        return measured(plan_for(args, "baseline", url), {"server": server.pid})


def run_hub(args: argparse.Namespace, tut: TownUnderTest, run: Run | None = None) -> dict[str, Any]:
    """The hub's side on `tut` (vigie serve and its Redis)."""
    plan = plan_for(args, "hub", tut.hub.ws_url, tut.hub.secret)
    before = tut.hub.metrics()
    result = measured(plan, {"server": tut.hub.pid, "redis": tut.redis_pid}, run)
    after = tut.hub.metrics()
    # How many frames one write system call carried (hub.server.cork): the baseline
    # writes one per frame.
    frames, writes = (
        after.get(f"vigie_{name}_total", 0) - before.get(f"vigie_{name}_total", 0)
        for name in ("frames_written", "socket_writes")
    )  # a hub before the cork has neither: no figure
    result["frames_per_write"] = round(frames / writes, 2) if writes else None
    return result


def main(argv: list[str] | None = None) -> int:
    """Rounds of baseline then hub; exit 1 when a delivery was lost or duplicated."""
    exit_on_sigterm()  # a SIGTERM unwinds: the hub, Redis and the workers are stopped
    args = parse_args(argv)
    progress = Progress()
    params = {
        k: getattr(args, k)
        for k in ("recipients", "duration", "window", "publishers", "workers", "codec", "rounds")
    }
    params["aof"] = not args.no_aof
    params["aof_rewrite"] = not args.no_aof_rewrite
    with open_run("fanout", args, params) as run:
        rounds = []
        for index in range(max(1, args.rounds)):
            baseline = None
            if not args.skip_baseline:
                progress.show(f"round {index + 1}: baseline, websockets.broadcast...", force=True)
                progress.done()
                baseline = run_baseline(args)
                time.sleep(1.0)
            progress.show(f"round {index + 1}: hub, {args.recipients} units...", force=True)
            progress.done()
            if index == 0:
                hub = run_hub(args, run.tut, run)  # the profile, if any, is of this round
            else:  # a fresh hub and Redis: a round must not find the last one's incidents
                with town_under_test(
                    args.results, aof=not args.no_aof, aof_rewrite=not args.no_aof_rewrite
                ) as tut:
                    hub = run_hub(args, tut)
            rounds.append(_round(baseline, hub))
        ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
        ratio = statistics.median(ratios) if ratios else None
        run.results.update(
            baseline=baseline,  # the last round, as before rounds
            hub=hub,
            rounds=rounds,
            ratios=ratios,
            ratio=None if ratio is None else round(ratio, 3),
            target_ratio=TARGET_RATIO,
            lost=sum(r["lost"] for r in rounds),
            duplicates=sum(r["hub"]["duplicates"] for r in rounds),
        )
        table(baseline, hub, ratio, ratios)
        run.write()
    return 1 if run.results["lost"] or run.results["duplicates"] else 0


def _round(baseline: dict[str, Any] | None, hub: dict[str, Any]) -> dict[str, Any]:
    """One pair's figures and its ratio."""
    ratio = hub["deliveries_per_s"] / baseline["deliveries_per_s"] if baseline else None
    lost = hub["lost"] + (baseline["lost"] if baseline else 0)
    return {
        "baseline": baseline,
        "hub": hub,
        "ratio": None if ratio is None else round(ratio, 3),
        "lost": lost,
    }


def table(
    baseline: dict[str, Any] | None,
    hub: dict[str, Any],
    ratio: float | None,
    ratios: list[float],
) -> None:
    """The last round side by side, then the ratio of every round and their median."""
    sides = [("baseline", baseline), ("hub", hub)] if baseline else [("hub", hub)]
    rows = []
    for name, key in (
        ("recipients", "recipients"), ("events", "events"), ("expected deliveries",
        "expected_deliveries"), ("received", "received"), ("lost", "lost"),
        ("duplicates", "duplicates"), ("events/s", "events_per_s"),
        ("deliveries/s", "deliveries_per_s"),
    ):  # fmt: skip
        rows.append([name, *(side[key] for _, side in sides)])
    for path in ("p50", "p99", "max"):
        rows.append([f"publish→push {path} ms", *(s["latency_ms"].get(path) for _, s in sides)])
    rows.append(["server CPU %", *(s["cpu_percent"].get("server") for _, s in sides)])
    rows.append(["Redis CPU %", *(s["cpu_percent"].get("redis", "-") for _, s in sides)])
    rows.append(["frames per write", *(s.get("frames_per_write", 1.0) for _, s in sides)])
    rows.append(["generators CPU %", *(s["cpu_percent"]["generators"] for _, s in sides)])
    print_table(
        "fan-out: one event to every recipient (last round)",
        rows,
        ["figure", *(n for n, _ in sides)],
    )
    if ratio is not None:
        verdict = check(ratio, TARGET_RATIO, at_most=False)
        each = ", ".join(f"{r:.3f}" for r in ratios)
        print(
            f"\nhub / baseline deliveries/s, median of {len(ratios)} rounds = {ratio:.3f}"
            f" ({each}; target >= {TARGET_RATIO}: {verdict})"
        )


if __name__ == "__main__":
    sys.exit(main())
