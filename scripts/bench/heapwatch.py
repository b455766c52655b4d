#!/usr/bin/env python3
"""`vigie serve` with a heap sampler beside it, for memory investigations (bench only).

    python scripts/bench/heapwatch.py serve --redis-url ... --port ...

runs the hub exactly as `vigie serve` does (hub.cli.main, uvicorn in this
process), with tracemalloc on from the first import and a daemon thread that,
every VIGIE_HEAPWATCH_EVERY_S seconds (default 60), writes to
VIGIE_HEAPWATCH_DIR:

- ``snap-NNN.tracemalloc``: a tracemalloc snapshot (compare two with
  ``scripts/bench/heapwatch.py diff A B``);
- one JSON line in ``samples.jsonl``: RSS, traced bytes, allocated blocks,
  the object count of the most common types (gc), and the sizes of the hub's
  in-memory structures (sessions, indexes, board, caches, tasks).

The hub's code is not changed: the sampler reads it from outside. Traced
bytes and blocks say whether RSS growth is live objects or allocator
fragmentation (RSS up, traced flat).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

FRAMES = int(os.environ.get("VIGIE_HEAPWATCH_FRAMES", "1"))
if __name__ == "__main__":
    tracemalloc.start(FRAMES)  # before the hub's modules are imported

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_NODES: list[Any] = []  # the hub's Node, kept by the hook `_watch_nodes` installs
_LOOPS: list[asyncio.AbstractEventLoop] = []


def _watch_nodes() -> None:
    """Remember each Node the app creates (the sampler reads its structures)."""
    from hub.server.node import Node

    init = Node.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _NODES.append(self)
        with contextlib.suppress(RuntimeError):  # created outside a running loop
            _LOOPS.append(asyncio.get_running_loop())

    Node.__init__ = recording_init  # type: ignore[method-assign]


def _hub_structures() -> dict[str, Any]:
    """Sizes of the hub's per-process structures (read only)."""
    from hub.core import geo, recommend

    out: dict[str, Any] = {}
    for node in _NODES:
        out["sessions"] = len(node.sessions)
        out["background"] = len(node._background)
        for tid, rt in node.tenants.items():
            out[f"{tid}.board"] = len(rt.board)
            out[f"{tid}.by_identity"] = len(rt.by_identity)
            out[f"{tid}.consoles"] = len(rt.consoles)
            out[f"{tid}.citizens_following"] = len(rt.citizens_following)
            out[f"{tid}.neighbours"] = len(rt.neighbours)
            out[f"{tid}.units.cells"] = len(rt.units._by_cell)
            out[f"{tid}.units.keys"] = len(rt.units._cells_of)
        for loop in _LOOPS:
            for _ in range(3):  # the set may change while we count (another thread)
                with contextlib.suppress(RuntimeError):
                    out["asyncio_tasks"] = len(asyncio.all_tasks(loop))
                    break
        m = node.metrics
        out["metrics.labels"] = (
            len(m.errors) + len(m.closes) + len(m.loop_errors) + len(m.bad_records)
            + len(m.stage_bins)
        )  # fmt: skip
    out["ring_cells"] = geo.ring_cells.cache_info().currsize
    out["recommend._coverage"] = recommend._coverage.cache_info().currsize
    return out


def _sample(index: int, out_dir: Path, t0: float) -> None:
    gc_counts = Counter(type(o).__name__ for o in gc.get_objects())
    current, peak = tracemalloc.get_traced_memory()
    try:
        structures = _hub_structures()
    except Exception as exc:  # the hub is still starting; say so, keep sampling
        structures = {"error": repr(exc)}
    record = {
        "index": index,
        "t_s": round(time.monotonic() - t0, 1),
        "rss_kib": _rss_kib(),
        "traced_bytes": current,
        "traced_peak_bytes": peak,
        "allocated_blocks": sys.getallocatedblocks(),
        "gc_objects": sum(gc_counts.values()),
        "gc_top": dict(gc_counts.most_common(40)),
        "structures": structures,
    }
    tracemalloc.take_snapshot().dump(str(out_dir / f"snap-{index:03d}.tracemalloc"))
    with (out_dir / "samples.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")


def _sampler(out_dir: Path, every_s: float) -> None:
    t0 = time.monotonic()
    index = 0
    while True:
        time.sleep(every_s)
        try:
            _sample(index, out_dir, t0)
        except Exception as exc:  # never take the hub down
            print(f"heapwatch: sample {index} failed: {exc!r}", file=sys.stderr)
        index += 1


def diff(a: str, b: str, top: int = 25, group: str = "lineno") -> None:
    """Print the allocation sites that grew most from snapshot `a` to `b`."""
    old, new = tracemalloc.Snapshot.load(a), tracemalloc.Snapshot.load(b)
    stats = new.compare_to(old, group)
    total = sum(s.size_diff for s in stats)
    print(f"total traced growth: {total / 2**20:+.2f} MiB")
    for stat in stats[:top]:
        print(stat)


def main(argv: list[str]) -> int:
    """`diff A B [N] [lineno|traceback]`, or run the hub (`serve ...`) with the sampler."""
    if argv[:1] == ["diff"]:
        diff(argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 25,
             argv[4] if len(argv) > 4 else "lineno")  # fmt: skip
        return 0
    out_dir = Path(os.environ.get("VIGIE_HEAPWATCH_DIR", "heapwatch"))
    out_dir.mkdir(parents=True, exist_ok=True)
    every_s = float(os.environ.get("VIGIE_HEAPWATCH_EVERY_S", "60"))
    _watch_nodes()
    threading.Thread(target=_sampler, args=(out_dir, every_s), daemon=True).start()
    from hub.cli import main as vigie

    return vigie(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
