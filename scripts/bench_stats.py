#!/usr/bin/env python3
"""A 90-day statistics query in a town of 50,000 residents (~200 alerts a day).

Starts an embedded redis-server and a hub in this process, replays `--days` of
synthetic history (`--per-day` alerts a day, corroborations included) through the
hub's own scripts (hub/demo/history.py), then times `--queries` requests of
`GET /api/v1/stats` over the whole period (end to end: HTTP, Redis, adding up,
JSON), and of the CSV and GeoJSON exports, and prints p50 / p99.

    .venv/bin/python scripts/bench_stats.py
    .venv/bin/python scripts/bench_stats.py --days 90 --per-day 200 --queries 50
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from hub.config import load_config
from hub.core.tokens import issue_token
from hub.demo.history import replay, synthetic
from hub.demo.town import Town
from hub.server.runner import running_hub
from hub.store.embedded import EmbeddedRedis

SECRET = "bench-stats-secret-0123456789abcdef0123456789"
BUDGET_MS = 1000.0  # "well under a second"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--per-day", type=int, default=200, help="alerts a day")
    p.add_argument("--queries", type=int, default=30, help="timed requests per kind")
    p.add_argument("--seed", type=int, default=12)
    return p.parse_args()


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> int:
    config = load_config(env={})
    tenant = config.tenants["narbonne"]
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), appendonly=False)
        server.start()
        try:
            async with running_hub(config, server.url, SECRET, port=0) as hub:
                node = hub.node
                now = int(time.time() * 1000)
                history = synthetic(Town(tenant, 9, random.Random(args.seed)), args.days,
                                    args.per_day, now, random.Random(args.seed))  # fmt: skip
                started = time.perf_counter()
                stored = await replay(node.store, config, tenant, history, concurrency=16)
                seeded_s = time.perf_counter() - started
                alerts = sum(1 + len(i.more_reports_ms) for i in history)
                print(f"seeded {stored} incidents ({alerts} alerts, {args.days} days) "
                      f"in {seeded_s:.1f} s")  # fmt: skip
                today = datetime.now(ZoneInfo(tenant.timezone)).date()
                period = {
                    "from": (today - timedelta(days=args.days - 1)).isoformat(),
                    "to": today.isoformat(),
                }
                token = issue_token(SECRET, sub="bench", role="console", tenant="narbonne")
                headers = {"authorization": f"Bearer {token}"}
                rows = []
                async with httpx.AsyncClient(base_url=hub.http_url, headers=headers) as http:
                    for fmt in ("json", "csv", "geojson"):
                        times = []
                        for _ in range(args.queries):
                            t0 = time.perf_counter()
                            r = await http.get("/api/v1/stats", params={**period, "format": fmt})
                            times.append((time.perf_counter() - t0) * 1000)
                            r.raise_for_status()
                        rows.append((fmt, len(r.content), times))
                    body = (await http.get("/api/v1/stats", params=period)).json()
        finally:
            server.stop()
    print(f"\n{args.days}-day query, {body['volumes']['incidents']} incidents, "
          f"{body['volumes']['reports']} reports; {args.queries} requests each\n")  # fmt: skip
    print(f"{'format':<8} {'bytes':>9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    worst = 0.0
    for fmt, size, times in rows:
        p99 = pct(times, 0.99)
        worst = max(worst, p99)
        print(f"{fmt:<8} {size:>9} {pct(times, 0.5):>8.1f} {p99:>8.1f} "
              f"{statistics.fmean(times):>8.1f}")  # fmt: skip
    verdict = "OK" if worst < BUDGET_MS else "OVER BUDGET"
    print(f"\nworst p99 {worst:.1f} ms (budget {BUDGET_MS:.0f} ms): {verdict}")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
