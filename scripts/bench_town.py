#!/usr/bin/env python3
"""Town-scale load generator: citizens, patrol units and consoles against a real hub.

Starts an embedded redis-server and `vigie serve` (one process, VIGIE_LIMITS=off),
connects C citizens (a share of them reporting), U patrol units covering the
town's sectors and moving, and K consoles, from several processes; then offers
alerts at each open-loop Poisson rate given, and reports alerts sent/acked,
deliveries expected/received/lost/duplicated, latency percentiles, deliveries/s,
hub and Redis CPU, hub RSS per connection — as a table and as JSON. Beside the
hub's latencies, `durable_write_alone`: a one-command script timed on the same
Redis during the step (bench.probe), the floor no ack can go under.

    .venv/bin/python scripts/bench_town.py --citizens 10000 --rate 500 --duration 30
    .venv/bin/python scripts/bench_town.py --rate 250,500,1000,2000 --plot
"""

from __future__ import annotations

import argparse
import sys

from bench.report import print_table, write_plot
from bench.session import add_common_args, open_run, print_step
from bench.town import parse_categories


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--citizens", type=int, default=1000, help="connected citizens (C)")
    p.add_argument("--reporting", type=float, default=0.1, help="share of citizens who report")
    p.add_argument("--units", type=int, default=50, help="patrol units (U)")
    p.add_argument("--consoles", type=int, default=2, help="control-room consoles (K)")
    p.add_argument("--rate", default="200", help="offered alerts/s (R), or a comma list of steps")
    p.add_argument("--duration", type=float, default=15.0, help="seconds per step")
    p.add_argument("--position-every", type=float, default=5.0, help="seconds between unit fixes")
    p.add_argument(
        "--categories",
        default="mix",
        help="'mix' (a plausible evening, with P1-P2 reports) or 'name:weight,...'",
    )
    p.add_argument("--connect-timeout", type=float, default=300.0)
    p.add_argument("--plot", action="store_true", help="PNG of latency against offered rate")
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the steps; exit 1 when anything was lost."""
    args = parse_args(argv)
    rates = [float(r) for r in args.rate.split(",") if r.strip()]
    params = {
        "citizens": args.citizens, "reporting": args.reporting, "units": args.units,
        "consoles": args.consoles, "rates": rates, "duration_s": args.duration,
        "position_every_s": args.position_every, "workers": args.workers, "codec": args.codec,
        "aof": not args.no_aof, "aof_rewrite": not args.no_aof_rewrite,
        "categories": parse_categories(args.categories),
    }  # fmt: skip
    with open_run("town", args, params) as run:
        status = run.start_town(
            citizens=args.citizens, units=args.units, consoles=args.consoles,
            connect_timeout_s=args.connect_timeout, reporting=args.reporting,
            position_every_s=args.position_every, categories=parse_categories(args.categories),
        )  # fmt: skip
        run.results["connect"] = status
        print(f"connected: {status['open']} in {status['connect_s']} s", file=sys.stderr)
        run.start_profile()
        steps = []
        for rate in rates:
            report = run.step(rate, args.duration)
            steps.append(report)
            print_step(report, f"town: {rate:g} alerts/s for {args.duration:g} s")
        run.stop_profile()
        run.results["steps"] = steps
        run.results["after"] = run.town.status() if run.town else {}
        if len(steps) > 1:
            summary_table(steps)
        path = run.write()
        if args.plot:
            write_plot(path.with_suffix(".png"), steps, "Vigie town: latency against offered rate")
    return 1 if any(s["lost"] for s in steps) else 0


def summary_table(steps: list[dict[str, object]]) -> None:
    """One line per step."""
    rows = []
    for s in steps:
        lat = s["latency_ms"]  # type: ignore[index]
        rows.append(
            [s["offered_rate"], s["achieved_rate"], s["lost"],
             lat["submit_to_ack"].get("p99", "-"), lat["submit_to_unit"].get("p99", "-"),
             lat["submit_to_console"].get("p99", "-"), s["cpu_percent"]["hub"]]  # type: ignore[index]
        )  # fmt: skip
    print_table(
        "steps",
        rows,
        ["offered/s", "acked/s", "lost", "ack p99", "unit p99", "console p99", "hub CPU%"],
    )


if __name__ == "__main__":
    sys.exit(main())
