"""Smoke runs of the benchmarks: tiny parameters, seconds each.

They keep `scripts/bench_*.py` working (real `vigie serve` subprocess, embedded
Redis, real clients); they assert that each ran and wrote its JSON with nothing
lost, never anything about speed (docs/performance.md has the real runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

RUN_TIMEOUT_S = 110  # under pytest's own 120 s


def run_bench(root: Path, tmp_path: Path, script: str, *args: str) -> dict[str, Any]:
    """Run one benchmark script; return its JSON results."""
    out = tmp_path / "results.json"
    command = [
        sys.executable, str(root / "scripts" / script), *args, "--workers", "1", "--no-aof",
        "--results", str(tmp_path), "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert out.exists(), f"{script} wrote no JSON:\n{done.stdout}\n{done.stderr}"
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def test_town(project_root: Path, tmp_path: Path) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_town.py",
        "--citizens", "30", "--units", "4", "--consoles", "1", "--rate", "20", "--duration", "1",
    )  # fmt: skip
    (step,) = results["steps"]
    assert step["alerts"]["sent"] > 0 and step["alerts"]["acked"] == step["alerts"]["sent"]
    assert step["lost"] == 0 and step["deliveries"]["duplicates"] == 0
    assert step["deliveries"]["expected"] > 0
    assert step["latency_ms"]["submit_to_unit"]["n"] > 0


def test_intake(project_root: Path, tmp_path: Path) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_intake.py",
        "--citizens", "20", "--units", "4", "--consoles", "1", "--start", "20", "--step", "20",
        "--max-steps", "2", "--duration", "1", "--max-p99-ms", "60000",
    )  # fmt: skip
    assert results["steps"] and results["lost"] == 0
    assert results["sustained_rate"] > 0


def test_idle(project_root: Path, tmp_path: Path) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_idle.py", "--citizens", "50", "--idle", "1", "--settle",
        "0.2",
    )  # fmt: skip
    assert results["hub_sessions"] == 50 and results["lost"] == 0
    assert "rss_per_connection_kib" in results and "idle_cpu_percent" in results


@pytest.mark.parametrize("extra", [[], ["--skip-baseline"]], ids=["with-baseline", "hub-only"])
def test_fanout(project_root: Path, tmp_path: Path, extra: list[str]) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_fanout.py", "--recipients", "20", "--duration", "1", *extra
    )
    hub = results["hub"]
    assert hub["events"] > 0 and hub["received"] == hub["expected_deliveries"] > 0
    assert results["lost"] == 0 and hub["duplicates"] == 0
    if not extra:
        assert results["baseline"]["lost"] == 0 and results["ratio"] > 0
