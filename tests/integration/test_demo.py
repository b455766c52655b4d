"""`vigie demo` as a user runs it: a real process, an embedded Redis, real WebSockets."""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hub.demo.run import MARKER, _claim, run_demo


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_command(data_dir: Path, *extra: str) -> list[str]:
    # 80 residents report ~2.7 alerts/s (Poisson): fewer than 3 in 4 s is a 1-in-1000 event.
    return [sys.executable, "-m", "hub", "demo", "--plain", "--port", str(free_port()),
            "--data-dir", str(data_dir), "--citizens", "80", *extra]  # fmt: skip


def assert_the_evening_happened(stdout: str, stderr: str) -> None:
    assert "DEV MODE" in stdout
    acks = re.findall(r"ack al\d+ \w+.* → incident in\d+ in [\d.]+ ms", stdout)
    assert len(acks) >= 3, stdout
    assert re.search(r"new incident in\d+ \w+ P[1-5] at [0-9a-f]{15}", stdout), stdout
    assert re.search(r"^summary: alerts sent \d+ acked [1-9]\d*", stdout, re.M), stdout
    assert re.search(r"^  console +http://127\.0\.0\.1:\d+/console#token=\S+$", stdout, re.M), (
        stdout
    )
    # A failure of the demo's own code would show a traceback through hub/demo/ or clients/.
    assert "hub/demo/" not in stderr and "clients/" not in stderr, stderr


def test_demo_runs_for_its_duration_and_shows_incidents_and_acks(
    project_root: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        demo_command(tmp_path / "demo", "--duration", "4"),
        cwd=project_root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_the_evening_happened(done.stdout, done.stderr)
    assert (tmp_path / "demo" / MARKER).exists()
    assert "past incidents over 21 days" in done.stdout  # the statistics have a history


def test_ctrl_c_stops_the_demo_cleanly(project_root: Path, tmp_path: Path) -> None:
    demo = subprocess.Popen(
        demo_command(tmp_path / "demo"),
        cwd=project_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline and len([s for s in seen if " ack al" in s]) < 3:
            seen.append(demo.stdout.readline())
        demo.send_signal(signal.SIGINT)
        rest, stderr = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, stderr
    assert_the_evening_happened("".join(seen) + rest, stderr)


def test_demo_refuses_a_busy_port_without_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = argparse.Namespace(
            port=busy.getsockname()[1], citizens=1, units=1, duration=1, plain=True,
            data_dir=str(tmp_path / "demo"),
        )  # fmt: skip
        assert run_demo(args) == 2
    assert not (tmp_path / "demo").exists()


def test_demo_wipes_only_a_data_dir_it_created(tmp_path: Path) -> None:
    assert _claim(tmp_path / "new") and (tmp_path / "new" / MARKER).exists()
    assert _claim(tmp_path / "new")  # created by an earlier demo: still ours
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "appendonly.aof").write_text("precious")
    assert not _claim(tmp_path / "theirs")
    assert not (tmp_path / "theirs" / MARKER).exists()
