#!/usr/bin/env python3
"""Console benchmark: event → screen in the control-room console under load.

Starts an embedded redis-server and `vigie serve` (abuse limits off), fills the
town with 500 open incidents (distinct cells and categories, so none group),
connects 50 patrol units, opens the console in headless Chromium (Debian's
/usr/bin/chromium) at 1280 x 800, then drives 50 events/s for `--duration`
seconds: half unit moves (each unit every 2 s, a random walk through the town),
half new reports joining the open incidents (their `incident` events).

For every message the page handles, the console calls `window.__vigieRendered`
after patching the DOM; the page measures `performance.timeOrigin +
performance.now()` there against the time the hub stamped on the event
(`incident.updated_at`, a position's `last_seen`, `queue.at`) — the hub's
clock, read when it handled the command, so the figure includes Redis, the
fan-out, the socket and the page — and again at the next animation frame (what
is painted). Every `--sample` seconds it forces a GC through CDP and reads the
JS heap and the DOM node count. Prints p50/p99 per event type and the heap over
time. Aim (issue 9): p99 under 50 ms, no growth of the heap over 5 minutes.

    .venv/bin/python scripts/bench_console.py
    .venv/bin/python scripts/bench_console.py --duration 300 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import h3
import websockets
from bench.report import check, print_table
from bench.session import DEFAULT_RESULTS
from bench.system import exit_on_sigterm, town_under_test
from playwright.async_api import Page, async_playwright

from hub.config import load_config
from hub.core.tokens import issue_token

CHROMIUM = "/usr/bin/chromium"
TARGET_P99_MS = 50.0

# In the page: one entry per handled message, [type, to DOM, to next frame, handling] in ms.
HOOK = """() => {
  window.benchSamples = [];
  const eventTime = (msg) => {
    if (msg.type === 'incident') return msg.incident.updated_at;
    if (msg.type === 'unit' && msg.change === 'position') return msg.unit.last_seen;
    if (msg.type === 'queue' || msg.type === 'assignment.state') return msg.at;
    return null;
  };
  window.__vigieRendered = (msg, renderedAt, startedAt) => {
    const at = eventTime(msg);
    if (!at) return;
    const dom = performance.timeOrigin + renderedAt - at;
    requestAnimationFrame(() => {
      const frame = performance.timeOrigin + performance.now() - at;
      window.benchSamples.push([msg.type, dom, frame, renderedAt - startedAt]);
    });
  };
}"""
TAKE_SAMPLES = "() => window.benchSamples.splice(0)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--incidents", type=int, default=500)
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--rate", type=float, default=50.0, help="events per second")
    p.add_argument("--duration", type=float, default=90.0, help="seconds of load")
    p.add_argument("--sample", type=float, default=15.0, help="seconds between heap samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="write the results here too")
    p.add_argument("--hide", nargs="*", default=[], help="diagnosis: CSS selectors to hide")
    return p.parse_args(argv)


# -- the town ----------------------------------------------------------------------------


def incident_spots(n: int, rng: random.Random) -> list[tuple[str, float, float]]:
    """(category, lat, lon) of n incidents that do not group: the centre cells of the
    town's res-8 cells are >= 2 res-9 rings apart, and each spot takes each category once."""
    config = load_config(env={})
    tenant = config.tenants["narbonne"]
    area = h3.LatLngPoly([(lat, lon) for lat, lon in tenant.area])
    centres = [
        h3.cell_to_latlng(h3.cell_to_center_child(c, 9)) for c in h3.polygon_to_cells(area, 8)
    ]
    pairs = [(cat, *centre) for cat in tenant.categories for centre in centres]
    if len(pairs) < n:
        raise SystemExit(f"only {len(pairs)} distinct incident spots in the town")
    rng.shuffle(pairs)
    return pairs[:n]


def event_time(msg: dict[str, Any]) -> int | None:
    """The hub's stamp on an event (as HOOK's eventTime, for the raw client)."""
    if msg.get("type") == "incident":
        return int(msg["incident"]["updated_at"])
    if msg.get("type") == "unit" and msg.get("change") == "position":
        return int(msg["unit"]["last_seen"])
    if msg.get("type") in ("queue", "assignment.state"):
        return int(msg["at"])
    return None


class Peer:
    """A raw protocol client that reads everything it is sent (no backlog, no 4408)."""

    def __init__(self, url: str, secret: str, role: str, sub: str, observe: bool = False) -> None:
        self.url, self.sub = url, sub
        self.token = issue_token(secret, sub=sub, role=role, tenant="narbonne", ttl_s=7200)
        self.refs = itertools.count()
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.observe = observe
        self.latencies: list[
            tuple[str, float]
        ] = []  # (type, ms from the hub's stamp), if observing

    async def open(self) -> Peer:
        self.ws = await websockets.connect(self.url, subprotocols=["vigie.v1.json"], max_size=None)  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "hello", "token": self.token}))
        self.reader = asyncio.create_task(self.read())
        return self

    async def read(self) -> None:
        async for frame in self.ws:
            received = time.time() * 1000
            msg = json.loads(frame)
            stamp = event_time(msg) if self.observe else None
            if stamp is not None:
                self.latencies.append((msg["type"], received - stamp))
            future = self.replies.pop(msg.get("ref", ""), None)
            if future is not None and not future.done():
                future.set_result(msg)

    async def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        ref = f"{self.sub}-{next(self.refs)}"
        future = asyncio.get_running_loop().create_future()
        self.replies[ref] = future
        await self.ws.send(json.dumps({**msg, "ref": ref}))
        return await asyncio.wait_for(future, 10)

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    async def close(self) -> None:
        self.reader.cancel()
        await self.ws.close()


async def fill_town(url: str, secret: str, spots: list[tuple[str, float, float]]) -> list[Peer]:
    """The open incidents, reported by a few residents; returns their connections."""
    citizens = [await Peer(url, secret, "citizen", f"resident-{i}").open() for i in range(10)]
    for n, (category, lat, lon) in enumerate(spots):
        ack = await citizens[n % len(citizens)].request(
            {
                "type": "alert.submit",
                "category": category,
                "lat": lat,
                "lon": lon,
                "text": f"report {n}",
            }
        )
        if ack["type"] != "alert.ack":
            raise SystemExit(f"setup report refused: {ack}")
    return citizens


async def start_units(
    url: str, secret: str, n: int, rng: random.Random, spots: list[Any]
) -> list[dict[str, Any]]:
    units = []
    for i in range(n):
        peer = await Peer(url, secret, "unit", f"u{i + 1:02d}").open()
        _, lat, lon = rng.choice(spots)
        await peer.request({"type": "unit.status", "status": "available"})
        await peer.request({"type": "unit.position", "lat": lat, "lon": lon})
        units.append({"peer": peer, "lat": lat, "lon": lon})
    return units


async def drive(
    citizens: list[Peer],
    units: list[dict[str, Any]],
    spots: list[Any],
    rate: float,
    duration: float,
    rng: random.Random,
) -> dict[str, int]:
    """`rate` events/s for `duration` s: moves and reports, alternately, on a fixed clock."""
    sent = {"moves": 0, "reports": 0}
    period = 1.0 / rate
    start = time.monotonic()
    moving = itertools.cycle(units)
    for n in itertools.count():
        at = start + n * period
        if at - start > duration:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        if n % 2 == 0:
            unit = next(moving)
            unit["lat"] += rng.uniform(-0.002, 0.002)
            unit["lon"] += rng.uniform(-0.003, 0.003)
            await unit["peer"].send(
                {"type": "unit.position", "lat": unit["lat"], "lon": unit["lon"]}
            )
            sent["moves"] += 1
        else:
            category, lat, lon = rng.choice(spots)
            citizen = citizens[n % len(citizens)]
            await citizen.send(
                {
                    "type": "alert.submit",
                    "ref": f"{citizen.sub}-load-{n}",
                    "category": category,
                    "lat": lat,
                    "lon": lon,
                    "text": f"again {n}",
                }
            )
            sent["reports"] += 1
    return sent


# -- the page ----------------------------------------------------------------------------


async def heap_sample(page: Page, cdp: Any, t0: float) -> dict[str, float]:
    await cdp.send("HeapProfiler.collectGarbage")
    heap = await cdp.send("Runtime.getHeapUsage")
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    busy = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")
    return {
        "busy": {k: metrics.get(k, 0.0) for k in busy},
        "t_s": round(time.monotonic() - t0),
        "heap_mib": round(heap["usedSize"] / 2**20, 2),
        "nodes": int(metrics.get("Nodes", 0)),
        "listeners": int(metrics.get("JSEventListeners", 0)),
        "rows": await page.locator("#queue li").count(),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    spots = incident_spots(args.incidents, rng)
    with town_under_test(DEFAULT_RESULTS) as tut:  # the hub's log goes there
        url, secret = tut.hub.ws_url, tut.hub.secret
        print(f"hub at {tut.hub.http_url}: {len(spots)} incidents, {args.units} units...")
        citizens = await fill_town(url, secret, spots)
        units = await start_units(url, secret, args.units, rng, spots)
        observer = await Peer(url, secret, "console", "bench-raw", observe=True).open()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            token = issue_token(
                secret, sub="bench-op", role="console", tenant="narbonne", ttl_s=7200
            )
            opened = time.monotonic()
            await page.goto(f"{tut.hub.http_url}/console?lang=en#token={token}")
            await page.wait_for_function(
                f"() => document.querySelectorAll('#queue li').length >= {len(spots)}"
            )
            await page.wait_for_function(
                f"() => document.querySelectorAll('#map path.hex').length >= {len(spots)}"
            )
            print(
                f"console ready with {len(spots)} incidents in {time.monotonic() - opened:.1f} s; "
                f"load: {args.rate:g} events/s for {args.duration:g} s"
            )
            await page.evaluate(HOOK)
            for selector in args.hide:
                await page.evaluate("s => document.querySelector(s).hidden = true", selector)
            t0 = time.monotonic()
            observer.latencies.clear()
            heap = [await heap_sample(page, cdp, t0)]
            samples: list[list[Any]] = []
            load = asyncio.create_task(drive(citizens, units, spots, args.rate, args.duration, rng))
            while not load.done():
                await asyncio.wait([load], timeout=args.sample)
                samples += await page.evaluate(TAKE_SAMPLES)
                heap.append(await heap_sample(page, cdp, t0))
                print(
                    f"  t={heap[-1]['t_s']:>4} s  heap {heap[-1]['heap_mib']:.2f} MiB  "
                    f"nodes {heap[-1]['nodes']}  samples {len(samples)}"
                )
            sent = load.result()
            await asyncio.sleep(1)
            samples += await page.evaluate(TAKE_SAMPLES)
            errors = await page.evaluate("() => window.vigieConsole ? 0 : 1")
            await browser.close()
        raw = list(observer.latencies)
        for peer in [*citizens, *(u["peer"] for u in units), observer]:
            await peer.close()
    return {
        "params": vars(args) | {"json": str(args.json)},
        "sent": sent,
        "samples": samples,
        "raw": raw,
        "heap": heap,
        "page_missing": errors,
    }


def _p(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.1f}" if values else "-"


def report(result: dict[str, Any]) -> None:
    """Print the latency table, the page over time, and the verdict."""
    samples, raw = result["samples"], result["raw"]
    rows = []
    for kind in ("incident", "unit", "queue", "all"):
        mine = [s for s in samples if kind == "all" or s[0] == kind]
        client = [ms for t, ms in raw if kind == "all" or t == kind]
        if not mine:
            continue
        dom, frame, work = [s[1] for s in mine], [s[2] for s in mine], [s[3] for s in mine]
        rows.append(
            [
                kind,
                len(mine),
                _p(client, 0.5),
                _p(client, 0.99),
                _p(dom, 0.5),
                _p(dom, 0.99),
                _p(frame, 0.5),
                _p(frame, 0.99),
                f"{max(frame):.1f}",
                _p(work, 0.5),
                _p(work, 0.99),
            ]
        )
    print_table(
        "event -> screen (ms from the hub's stamp): a raw Python console client, the page's"
        " DOM patched, the next frame; and the page's own handling time per message",
        rows,
        [
            "event",
            "n",
            "raw p50",
            "raw p99",
            "dom p50",
            "dom p99",
            "frame p50",
            "frame p99",
            "frame max",
            "handling p50",
            "handling p99",
        ],
    )
    heap = result["heap"]
    print_table(
        "page over time (after a forced GC)",
        [[h["t_s"], h["heap_mib"], h["nodes"], h["listeners"], h["rows"]] for h in heap],
        ["t (s)", "JS heap (MiB)", "DOM nodes", "listeners", "queue rows"],
    )
    span = heap[-1]["t_s"] - heap[0]["t_s"] or 1
    busy = {k: (heap[-1]["busy"][k] - heap[0]["busy"][k]) / span * 1000 for k in heap[0]["busy"]}
    print(
        "\npage main thread, ms per second of load: "
        + ", ".join(f"{k.removesuffix('Duration').lower()} {v:.0f}" for k, v in busy.items())
    )
    every = [s[2] for s in samples]
    p99 = percentile(every, 0.99) if every else None
    growth = heap[-1]["heap_mib"] - heap[1]["heap_mib"] if len(heap) > 2 else 0.0
    print(
        f"\nsent: {result['sent']}; p99 to frame {p99:.1f} ms: {check(p99, TARGET_P99_MS)} "
        f"(target {TARGET_P99_MS:g}); heap from the first load sample to the end: {growth:+.2f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    result = asyncio.run(measure(args))
    report(result)
    if args.json:
        args.json.write_text(
            json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
