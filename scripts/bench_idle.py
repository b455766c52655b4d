#!/usr/bin/env python3
"""Idle capacity: N connected citizen sessions (default 10,000) doing nothing.

Starts an embedded redis-server and `vigie serve`, reads the hub's RSS, connects
N citizens (real tokens, real hello/welcome) from several processes, then stays
idle for a window long enough to include the hub's heartbeats (it pings every
`heartbeat_s`, 25 s in config/narbonne.toml; the clients answer with pongs).
Reports RSS per connected session (above the idle hub's RSS) and the hub's CPU
over the idle window. Targets (issue #10): <= 12 KiB per session, <= 1 % of a core.

First, unless --skip-baseline, the same number of idle connections is held for
the same window by a bare `websockets` server pinging at the hub's period
(`bench.idle_baseline`): the floor of both figures on this machine, same run;
then by a server that does nothing but the pings on the hub's own wheel and
reads the pongs unparsed (`bench.heartbeat_floor`): the floor of the idle CPU
of any server, same clients.

    .venv/bin/python scripts/bench_idle.py
    .venv/bin/python scripts/bench_idle.py --citizens 10000 --idle 60 --profile
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from bench.idle_baseline import IDLE_CPU_DIGITS, IdlePlan, run_idle_baseline
from bench.report import Progress, check, print_table
from bench.session import add_common_args, open_run
from bench.system import rss_bytes

from hub.config import load_config

TARGET_KIB_PER_SESSION = 12.0
TARGET_IDLE_CPU = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--citizens", type=int, default=10_000)
    p.add_argument(
        "--idle", type=float, default=60.0, help="seconds measured (>= 2 heartbeats: 50)"
    )
    p.add_argument("--settle", type=float, default=3.0, help="seconds after connecting")
    p.add_argument("--connect-timeout", type=float, default=600.0)
    p.add_argument(
        "--skip-baseline",
        action="store_true",
        help="no bare websockets server nor pings-only server run first",
    )
    add_common_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Connect, idle, measure; exit 1 when a session was refused or dropped."""
    args = parse_args(argv)
    params = {
        "citizens": args.citizens, "idle_s": args.idle, "workers": args.workers,
        "codec": args.codec, "aof": not args.no_aof,
        "aof_rewrite": not args.no_aof_rewrite,
    }  # fmt: skip
    baseline = floor = None
    if not args.skip_baseline:
        plan = IdlePlan(args.citizens, args.workers, args.idle, load_config().hub.heartbeat_s)
        print(f"baseline: {args.citizens} idle connections, bare websockets...", file=sys.stderr)
        baseline = run_idle_baseline(plan, Progress())
        print(f"floor: {args.citizens} idle connections, pings only...", file=sys.stderr)
        floor = run_idle_baseline(plan, Progress(), floor=True)
    with open_run("idle", args, params) as run:
        status = run.start_town(
            citizens=args.citizens, units=0, consoles=0, connect_timeout_s=args.connect_timeout
        )
        print(f"connected: {status['open']} in {status['connect_s']} s", file=sys.stderr)
        time.sleep(args.settle)
        run.start_profile()
        meter = run.cpu_meter()
        meter.start()
        end = time.monotonic() + args.idle
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            cpu, rss_mib = meter.percent(), rss_bytes(run.hub_pid) / 2**20
            run.progress.show(
                f"  idle {args.idle - max(left, 0):5.0f}/{args.idle:g} s"
                f" | hub CPU {cpu['hub']:5.1f} % | hub RSS {rss_mib:6.1f} MiB"
            )
        cpu = meter.percent(IDLE_CPU_DIGITS)
        run.progress.done()
        run.stop_profile()
        after = run.town.status() if run.town else {}
        memory = run.memory()
        dropped = args.citizens - after.get("connected", 0)
        run.results.update(
            connect=status,
            after=after,
            idle_cpu_percent={
                "hub": cpu["hub"],
                "redis": cpu["redis"],
                "generators": round(sum(v for k, v in cpu.items() if k.startswith("gen")), 1),
            },
            **memory,
            dropped_sessions=dropped,
            lost=dropped,
            baseline=baseline,
            floor=floor,
            targets={
                "rss_per_connection_kib": TARGET_KIB_PER_SESSION,
                "idle_cpu_percent": TARGET_IDLE_CPU,
            },
        )
        table(run.results, args)
        run.write()
    return 1 if dropped else 0


def table(results: dict[str, Any], args: argparse.Namespace) -> None:
    """Figures against targets, beside the bare server's when it ran."""
    per = results["rss_per_connection_kib"]
    cpu = results["idle_cpu_percent"]["hub"]
    base = results.get("baseline") or {}
    floor = results.get("floor") or {}

    def bare(key: str) -> object:
        return base.get(key, "-")

    def least(key: str) -> object:
        return floor.get(key, "-")

    print_table(
        f"idle capacity: {args.citizens} citizen sessions, {args.idle:g} s idle",
        [
            ["sessions connected", results["hub_sessions"], bare("connections"),
             least("connections"), "", ""],
            ["connect time s", results["connect"]["connect_s"], bare("connect_s"),
             least("connect_s"), "", ""],
            ["sessions dropped", results["dropped_sessions"], bare("dropped"), least("dropped"),
             "0", ""],
            ["RSS idle, before MiB", results["hub_rss_idle_mib"], bare("server_rss_idle_mib"),
             least("server_rss_idle_mib"), "", ""],
            ["RSS connected MiB", results["hub_rss_mib"], bare("server_rss_mib"),
             least("server_rss_mib"), "", ""],
            ["RSS per session KiB", per, bare("rss_per_connection_kib"),
             least("rss_per_connection_kib"), f"<= {TARGET_KIB_PER_SESSION:g}",
             check(per, TARGET_KIB_PER_SESSION)],
            ["CPU idle % of a core", cpu, bare("idle_cpu_percent"), least("idle_cpu_percent"),
             f"<= {TARGET_IDLE_CPU:g}", check(cpu, TARGET_IDLE_CPU)],
            ["Redis CPU idle %", results["idle_cpu_percent"]["redis"], "-", "-", "", ""],
        ],
        ["figure", "hub", "bare websockets", "pings only", "target", ""],
    )  # fmt: skip
    if base:
        print(
            f"hub / bare websockets: RSS per session {_ratio(per, base['rss_per_connection_kib'])},"
            f" idle CPU {_ratio(cpu, base['idle_cpu_percent'])}"
            f" (the bare server pings every {base['ping_interval_s']:g} s, as the hub)"
        )
    if floor:
        print(
            f"hub / pings only: idle CPU {_ratio(cpu, floor['idle_cpu_percent'])}; above it"
            f" {cpu - floor['idle_cpu_percent']:.2f} point(s) of a core (the pings only server"
            " writes the hub's ping on the hub's wheel and reads pongs unparsed: the floor"
            " of any server keeping these connections alive, bench.heartbeat_floor)"
        )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


if __name__ == "__main__":
    sys.exit(main())
