"""Figures out of raw samples: percentiles, the table, the JSON file, plot, profile summary."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Progress",
    "check",
    "print_table",
    "profile_summary",
    "summarize",
    "write_json",
    "write_plot",
]

PERCENTILES = (50, 95, 99)


def summarize(samples_ns: Iterable[int], *, positive: bool = False) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of nanosecond samples (`positive`: skip negatives)."""
    values = sorted(v for v in samples_ns if v >= 0) if positive else sorted(samples_ns)
    if not values:
        return {"n": 0}
    out: dict[str, float] = {"n": len(values)}
    for p in PERCENTILES:
        index = min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))
        out[f"p{p}"] = round(values[index] / 1e6, 3)
    out["max"] = round(values[-1] / 1e6, 3)
    return out


def check(value: float | None, target: float, *, at_most: bool = True) -> str:
    """'ok' or 'MISSED' for a figure against its target."""
    if value is None:
        return "n/a"
    return "ok" if (value <= target if at_most else value >= target) else "MISSED"


def print_table(title: str, rows: Sequence[Sequence[object]], header: Sequence[str]) -> None:
    """A plain-text table on stdout."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print(line)
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if n and i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print(line)
    print(line)


def latency_rows(latency: dict[str, dict[str, float]]) -> list[list[object]]:
    """Rows of a latency table: one per measured path."""
    rows: list[list[object]] = []
    for name, stats in latency.items():
        if stats.get("n"):
            rows.append([name, stats["n"], stats["p50"], stats["p95"], stats["p99"], stats["max"]])
        else:
            rows.append([name, 0, "-", "-", "-", "-"])
    return rows


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write the results file (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    print(f"\nresults: {path}")


def _jsonable(value: object) -> object:
    if isinstance(value, Counter):
        return dict(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class Progress:
    """One status line per second on stderr (rewritten in place on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def show(self, text: str, *, force: bool = False) -> None:
        """Print `text` now if a second passed since the last line."""
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        """End the in-place line."""
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def write_plot(path: Path, steps: Sequence[dict[str, Any]], title: str) -> bool:
    """Latency percentiles against offered rate, as a PNG (matplotlib is optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "--plot needs matplotlib, which is not a dependency: "
            "`.venv/bin/pip install matplotlib` (the JSON file has the same figures)",
            file=sys.stderr,
        )
        return False
    rates = [s["offered_rate"] for s in steps]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharex=True)
    for ax, (name, label) in zip(
        axes,
        (("submit_to_ack", "submit → ack"), ("submit_to_unit", "submit → unit push"),
         ("submit_to_console", "submit → console push")),
        strict=True,
    ):  # fmt: skip
        for p in (*PERCENTILES, "max"):
            key = p if p == "max" else f"p{p}"
            ys = [s["latency_ms"][name].get(key) for s in steps]
            ax.plot(rates, ys, marker="o", label=key if p == "max" else f"p{p}")
        ax.set_title(label)
        ax.set_xlabel("offered alerts/s")
        ax.set_ylabel("ms")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")
    return True


def profile_summary(raw_path: Path, top: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Top self and inclusive costs from a py-spy `--format raw` (collapsed stacks) file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return {"self": [], "inclusive": [], "samples": []}

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"self": pct(own), "inclusive": pct(inclusive), "samples": [("total", total)]}


def _frame_name(frame: str) -> str:
    """'func (path/to/file.py:123)' → 'func (file.py)'; thread/process roots dropped."""
    frame = frame.strip()
    if frame.startswith(("process ", "thread ")):
        return ""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rstrip(")")
    parts = Path(file).parts
    short = "/".join(parts[-2:]) if parts else file
    return f"{name} ({short})"


def print_profile(summary: dict[str, list[tuple[str, float]]], path: Path) -> None:
    """The profile's top costs, as two tables."""
    samples = dict(summary.get("samples", [])).get("total", 0)
    print(f"\nprofile of the hub: {path} ({samples} samples)")
    print_table("top self time (% of samples)", summary["self"], ["function", "%"])
    print_table("top inclusive time (% of samples)", summary["inclusive"], ["function", "%"])
