#!/usr/bin/env python3
"""Intake ramp: raise the alert rate until the hub stops keeping up.

Starts an embedded redis-server and `vigie serve` (one process), connects a town
(C citizens, U units, K consoles) and offers alerts at an open-loop Poisson rate
R, raised step by step (`--start`, `--step`) until p99 submit→unit push exceeds
`--max-p99-ms` (50) or anything is lost (an alert not acked, refused, or a push
missing), or the load generators fall behind their schedule (p99 lag over
`--max-generator-lag-ms`, 50: the step would measure them, not the hub).
Reports the highest rate sustained (target: >= 3,000 alerts/s).

    .venv/bin/python scripts/bench_intake.py
    .venv/bin/python scripts/bench_intake.py --start 500 --step 500 --plot --profile
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench.report import check, print_table, write_plot
from bench.session import add_common_args, open_run, print_step
from bench.town import parse_categories

TARGET_RATE = 3000.0
GENERATOR_LAG_LIMIT_MS = 50.0  # beyond it the generator, not the hub, sets the pace


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--citizens", type=int, default=1000)
    p.add_argument("--reporting", type=float, default=0.5, help="share of citizens who report")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--consoles", type=int, default=2)
    p.add_argument("--start", type=float, default=250.0, help="first rate, alerts/s")
    p.add_argument("--step", type=float, default=250.0, help="added at each step")
    p.add_argument("--max-rate", type=float, default=8000.0)
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    p.add_argument("--max-p99-ms", type=float, default=50.0, help="p99 submit→unit limit")
    p.add_argument(
        "--max-generator-lag-ms", type=float, default=GENERATOR_LAG_LIMIT_MS,
        help="p99 lag of the load generators behind their schedule, beyond which a step "
        "measures them rather than the hub",
    )  # fmt: skip
    p.add_argument(
        "--categories",
        default="mix",
        help="'mix' (a plausible evening, with P1-P2 reports) or 'name:weight,...'",
    )
    p.add_argument("--position-every", type=float, default=5.0)
    p.add_argument("--connect-timeout", type=float, default=300.0)
    p.add_argument("--plot", action="store_true", help="PNG of latency against offered rate")
    add_common_args(p)
    return p.parse_args(argv)


def verdict(
    step: dict[str, Any], max_p99_ms: float, max_lag_ms: float = GENERATOR_LAG_LIMIT_MS
) -> str:
    """Why a step failed, or '' when it held."""
    if step["lost"] or sum(step["alerts"]["refused"].values()):
        return "loss"
    p99 = step["latency_ms"]["submit_to_unit"].get("p99")
    if p99 is None or p99 > max_p99_ms:
        return f"p99 submit→unit {p99} ms > {max_p99_ms:g}"
    if step["generator_lag_ms"].get("p99", 0) > max_lag_ms:
        return "load generator could not keep up"
    return ""


def main(argv: list[str] | None = None) -> int:
    """Ramp; exit 1 when even the first step lost something."""
    args = parse_args(argv)
    mix = parse_categories(args.categories)
    params = {
        "citizens": args.citizens, "reporting": args.reporting, "units": args.units,
        "consoles": args.consoles, "start": args.start, "step": args.step,
        "duration_s": args.duration, "max_p99_ms": args.max_p99_ms, "categories": mix,
        "workers": args.workers, "codec": args.codec, "aof": not args.no_aof,
        "aof_rewrite": not args.no_aof_rewrite,
    }  # fmt: skip
    with open_run("intake", args, params) as run:
        status = run.start_town(
            citizens=args.citizens, units=args.units, consoles=args.consoles,
            connect_timeout_s=args.connect_timeout, reporting=args.reporting,
            position_every_s=args.position_every, categories=mix,
        )  # fmt: skip
        run.results["connect"] = status
        print(f"connected: {status['open']} in {status['connect_s']} s", file=sys.stderr)
        run.start_profile()
        steps, best, failed = ramp(run, args)
        run.stop_profile()
        run.results.update(
            steps=steps,
            sustained_rate=best,
            stopped_by=failed,
            target_rate=TARGET_RATE,
            lost=sum(s["lost"] for s in steps),
        )
        summary(steps, best, failed)
        path = run.write()
        if args.plot:
            write_plot(path.with_suffix(".png"), steps, "Vigie intake ramp")
    return 0 if best else 1


def ramp(run: Any, args: argparse.Namespace) -> tuple[list[dict[str, Any]], float, str]:
    """Steps of rising rate; returns (steps, highest rate that held, why it stopped)."""
    steps: list[dict[str, Any]] = []
    best, failed = 0.0, "max rate reached"
    rate = args.start
    for _ in range(args.max_steps):
        if rate > args.max_rate:
            break
        step = run.step(rate, args.duration)
        step["failed"] = verdict(step, args.max_p99_ms, args.max_generator_lag_ms)
        steps.append(step)
        print_step(step, f"intake: {rate:g} alerts/s ({step['failed'] or 'held'})")
        if step["failed"]:
            failed = step["failed"]
            break
        best = rate
        rate += args.step
    return steps, best, failed


RAMP_COLUMNS = (
    "offered/s", "acked/s", "lost", "ack p99", "unit p99", "hub CPU%", "Redis CPU%",
    "hub ms/alert", "Redis ms/alert", "AOF rewrites", "",
)  # fmt: skip


def cpu_ms_per_alert(step: dict[str, Any], process: str) -> float | None:
    """Milliseconds of one process's CPU per alert acked in a step (its cost, whatever the rate)."""
    rate = step["achieved_rate"]
    return round(10 * step["cpu_percent"][process] / rate, 3) if rate else None


def ceiling(step: dict[str, Any], process: str) -> float | None:
    """Alerts/s at which that process alone would fill one core, at the step's cost per alert."""
    ms = cpu_ms_per_alert(step, process)
    return round(1000 / ms) if ms else None


def summary(steps: list[dict[str, Any]], best: float, failed: str) -> None:
    """One line per step, then the figure against its target."""
    rows = []
    for s in steps:
        lat = s["latency_ms"]
        rows.append(
            [s["offered_rate"], s["achieved_rate"], s["lost"],
             lat["submit_to_ack"].get("p99", "-"), lat["submit_to_unit"].get("p99", "-"),
             s["cpu_percent"]["hub"], s["cpu_percent"]["redis"], cpu_ms_per_alert(s, "hub"),
             cpu_ms_per_alert(s, "redis"), s["aof_rewrites"], s["failed"] or "held"]
        )  # fmt: skip
    print_table("intake ramp", rows, RAMP_COLUMNS)
    print(
        f"\nhighest sustained rate: {best:g} alerts/s (stopped by: {failed}); "
        f"target >= {TARGET_RATE:g}: {check(best, TARGET_RATE, at_most=False)}"
    )
    held = [s for s in steps if not s["failed"]]
    if held:
        # Redis runs its scripts on one thread: at its cost per alert, one core is its limit
        # whatever the hub does (and the machine's other processes want the same cores).
        last = held[-1]
        print(
            f"one core's worth at the last held step's cost per alert: Redis alone "
            f"{ceiling(last, 'redis')} alerts/s, the hub process alone {ceiling(last, 'hub')}"
        )


if __name__ == "__main__":
    sys.exit(main())
