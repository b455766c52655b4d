"""Smoke runs of the benchmarks: tiny parameters, seconds each.

They keep `scripts/bench_*.py` working (real `vigie serve` subprocess, embedded
Redis, real clients); they assert that each ran and wrote its JSON with nothing
lost, never anything about speed (docs/performance.md has the real runs).
Each run is bounded (then SIGTERM, then SIGKILL) and must leave no process
behind: a redis-server or `vigie serve` still running afterwards fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

RUN_TIMEOUT_S = 95  # then SIGTERM, a grace period, SIGKILL: all under pytest's 120 s
GRACE_S = 10  # a SIGTERMed benchmark stops its hub, Redis and workers within this


def run_bench(root: Path, tmp_path: Path, script: str, *args: str) -> dict[str, Any]:
    """Run one benchmark script; return its JSON results.

    Everything the benchmark starts is found again afterwards: its output goes to
    files in `tmp_path` and its temporary folders (the embedded Redis's) are made
    there, so a process still using `tmp_path` once the run is over was left behind.
    Such a process is killed, and the test fails naming it.
    """
    out = tmp_path / "results.json"
    command = [
        sys.executable, str(root / "scripts" / script), *args, "--workers", "1", "--no-aof",
        "--results", str(tmp_path), "--json", str(out),
    ]  # fmt: skip
    # Files, not pipes: a stray grandchild holding a pipe open would block reading it.
    stdout_path, stderr_path = tmp_path / "bench.stdout", tmp_path / "bench.stderr"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
    try:
        returncode: int | None = process.wait(RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        returncode = None
        process.terminate()  # the benchmark unwinds on SIGTERM: its children are stopped
        try:
            process.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    finally:
        if process.poll() is None:  # interrupted (pytest-timeout, Ctrl-C): no orphans
            process.kill()
            process.wait()
        leftovers = _kill_processes_using(tmp_path)
    output = f"--- stdout ---\n{_read(stdout_path)}\n--- stderr ---\n{_read(stderr_path)}"
    assert returncode is not None, f"{script} ran over {RUN_TIMEOUT_S} s:\n{output}"
    assert returncode == 0, f"{script} exited {returncode}:\n{output}"
    assert not leftovers, f"{script} left processes running (killed now): {leftovers}"
    assert out.exists(), f"{script} wrote no JSON:\n{output}"
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _kill_processes_using(folder: Path) -> list[str]:
    """SIGKILL every process whose working directory or an open file is under `folder`.

    Processes on their way out (multiprocessing's resource tracker ends once the
    benchmark has) get a few seconds first. Returns the command lines of the killed.
    """
    deadline = time.monotonic() + 3
    found = _processes_using(folder)
    while found and time.monotonic() < deadline:
        time.sleep(0.1)
        found = _processes_using(folder)
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in found):
        time.sleep(0.05)
    return [f"{pid}: {command}" for pid, command in found.items()]


def _processes_using(folder: Path) -> dict[int, str]:
    """{pid: command line} of the processes with their cwd or an open file under `folder`."""
    prefix = str(folder.resolve()) + os.sep
    found: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            links = [os.readlink(proc / "cwd")]
            links += [os.readlink(fd) for fd in (proc / "fd").iterdir()]
            command = (proc / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, a zombie, or not ours to look at
            continue
        if any((link + os.sep).startswith(prefix) for link in links):
            found[int(proc.name)] = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


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
    assert step["latency_ms"]["durable_write_alone"]["n"] > 0  # the probe beside the hub


def test_intake(project_root: Path, tmp_path: Path) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_intake.py",
        "--citizens", "20", "--units", "4", "--consoles", "1", "--start", "20", "--step", "20",
        "--max-steps", "2", "--duration", "1", "--max-p99-ms", "60000",
        "--max-generator-lag-ms", "60000",  # a smoke run beside the suite: no pace is judged
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
    baseline = results["baseline"]  # the bare websockets server, same connections and window
    assert baseline["connections"] == 50 and baseline["dropped"] == 0
    assert "rss_per_connection_kib" in baseline and "idle_cpu_percent" in baseline


@pytest.mark.parametrize(
    "extra",
    [["--rounds", "2"], ["--skip-baseline", "--rounds", "1"]],  # two rounds: the median's path
    ids=["with-baseline", "hub-only"],
)
def test_fanout(project_root: Path, tmp_path: Path, extra: list[str]) -> None:
    results = run_bench(
        project_root, tmp_path, "bench_fanout.py", "--recipients", "20", "--duration", "1", *extra
    )
    assert len(results["rounds"]) == int(extra[-1])
    hub = results["hub"]
    assert hub["events"] > 0 and hub["received"] == hub["expected_deliveries"] > 0
    assert results["lost"] == 0 and hub["duplicates"] == 0
    if "--skip-baseline" not in extra:
        assert results["baseline"]["lost"] == 0 and results["ratio"] > 0


async def test_a_fanout_recipient_keeps_setup_replies_read_in_one_go(
    project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Welcome and snapshot read together (a busy load generator) are both kept.

    The recipient used to hold one future re-armed after each reply: the second
    of two frames parsed in one `data_received` was dropped, the unit never sent
    `cover`, and the benchmark waited for it until killed.
    """
    monkeypatch.syspath_prepend(str(project_root / "scripts"))
    from bench.fanout import Recipient

    recipient = Recipient(0)
    recipient.on_message(1, b'{"type": "welcome"}')
    recipient.on_message(1, b'{"type": "snapshot", "incidents": []}')
    assert (await asyncio.wait_for(recipient.next_control(), 1))["type"] == "welcome"
    assert (await asyncio.wait_for(recipient.next_control(), 1))["type"] == "snapshot"


def test_a_fanout_recipient_checks_order_per_publisher_lane(
    project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two lanes' events may reach the stream in either order: no gap for that; a
    gap or a repeat within one lane is still counted."""
    monkeypatch.syspath_prepend(str(project_root / "scripts"))
    from bench.fanout import Recipient

    recipient = Recipient(0, lanes=2)
    recipient.control = None  # set up: only events count
    for lane, seq in ((1, 1), (0, 1), (0, 2), (1, 2), (1, 2), (0, 4)):
        text = f"bench:{lane}:{seq}:{time.monotonic_ns()}"
        recipient.on_message(1, orjson.dumps({"type": "incident", "incident": {"text": text}}))
    assert recipient.last == [4, 2]
    assert (recipient.unique, recipient.dups, recipient.gaps) == (5, 1, 1)


def test_the_pings_only_floor_subscribes_then_pings_on_the_hub_wheel() -> None:
    """bench.heartbeat_floor (bench_idle's third column): the handshake, the idle clients'
    subscription, then the hub's ping frame at the period, and pongs read unparsed."""
    from bench.fanout import BaselineServer
    from bench.heartbeat_floor import serve_floor

    with BaselineServer(ping_interval_s=0.3, target=serve_floor) as url:
        pings = asyncio.run(_pings_seen(url, listen_s=1.0))
    assert pings >= 2  # one a period, answered each time: the connection stays up


async def _pings_seen(url: str, listen_s: float) -> int:
    from bench.frames import OP_TEXT, FrameReader, check_response, encode_frame, handshake_request

    host, _, rest = url.removeprefix("ws://").partition(":")
    port = int(rest.rstrip("/"))
    reader, writer = await asyncio.open_connection(host, port)
    request, key = handshake_request(host, port, "/", None)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    check_response(head[:-4], key)
    frames = FrameReader()
    writer.write(encode_frame(OP_TEXT, b"sub"))
    messages: list[Any] = []
    while not messages:
        messages = frames.feed(await reader.read(4096))
    assert orjson.loads(messages[0][1]) == {"type": "subscribed"}
    pings = 0
    end = time.monotonic() + listen_s
    with contextlib.suppress(TimeoutError):
        while (left := end - time.monotonic()) > 0:
            data = await asyncio.wait_for(reader.read(4096), left)
            assert data, "the floor server closed the connection"
            frames.feed(data)
            if pong := frames.data_to_send():  # a ping came: answer it, as the clients do
                pings += 1
                writer.write(pong)
    writer.close()
    return pings
