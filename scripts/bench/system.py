"""The processes under test, and what the kernel says about them.

The hub runs as a real ``vigie serve`` subprocess on an embedded redis-server
(``hub.store.embedded.EmbeddedRedis``), never on a Redis the machine happens to
run, so a benchmark works the same from a fresh clone. CPU and memory come from
``/proc/<pid>/stat`` and ``/proc/<pid>/status`` (no psutil).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "CpuMeter",
    "HubProcess",
    "Profiler",
    "code_version",
    "cpu_seconds",
    "exit_on_sigterm",
    "free_port",
    "machine_info",
    "raise_open_files_limit",
    "rss_bytes",
    "town_under_test",
]

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HUB_START_TIMEOUT_S = 30.0


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def exit_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit, so `finally` and `with` blocks stop the children.

    By default SIGTERM kills Python on the spot, leaving its redis-server and
    `vigie serve` running with nobody to stop them.
    """

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (fields 14 and 15 of /proc/pid/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS of /proc/pid/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class CpuMeter:
    """CPU use of some processes over a window, in percent of one core."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def start(self) -> None:
        """Open the window."""
        self._t0 = time.monotonic()
        self._start = {name: self._read(pid) for name, pid in self.pids.items()}

    def percent(self, digits: int = 1) -> dict[str, float]:
        """Percent of one core used by each process since `start`, to `digits` decimals."""
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        return {
            name: round(100 * (self._read(pid) - self._start[name]) / elapsed, digits)
            for name, pid in self.pids.items()
        }

    @staticmethod
    def _read(pid: int) -> float:
        try:
            return cpu_seconds(pid)
        except OSError:  # the process is gone
            return 0.0


def code_version() -> dict[str, Any]:
    """The commit measured, and hub files changed in the work tree (uncommitted)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
            ).stdout.rstrip()
        except OSError:
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "hub").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "hub_uncommitted": dirty}


def machine_info() -> dict[str, Any]:
    """The machine the figures come from."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
    }


@dataclass
class HubProcess:
    """A `vigie serve` subprocess (one process, abuse limits off) on a given Redis."""

    redis_url: str
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Run through this instead of `vigie` (e.g. scripts/bench/heapwatch.py): same arguments.
    launcher: list[str] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        """The hub's WebSocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        """The hub's HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The hub's process id."""
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        """`vigie serve` from the interpreter's own bin folder (the project's venv)."""
        vigie = Path(sys.executable).parent / "vigie"
        head = [str(vigie)] if vigie.exists() else [sys.executable, "-m", "hub"]
        if self.launcher is not None:
            head = self.launcher
        return [
            *head,
            "serve",
            "--redis-url",
            self.redis_url,
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]

    def start(self) -> None:
        """Start the hub and wait until /healthz says ok."""
        env = {**os.environ, "VIGIE_SECRET": self.secret, "VIGIE_LIMITS": "off", **self.extra_env}
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                self.command(), env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + HUB_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vigie serve exited with {self.process.returncode}; see log")
            with contextlib.suppress(OSError, ValueError):
                if self.health().get("status") == "ok":
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"vigie serve was not healthy within {HUB_START_TIMEOUT_S:g}s")

    def health(self) -> dict[str, Any]:
        """GET /healthz (a 503 body is returned too)."""
        try:
            with urllib.request.urlopen(self.http_url + "/healthz", timeout=5) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        return body

    def metrics(self) -> dict[str, float]:
        """GET /metrics, as {'name{labels}': value}."""
        with urllib.request.urlopen(self.http_url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                with contextlib.suppress(ValueError):
                    out[name] = float(value)
        return out

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGINT (uvicorn's graceful shutdown), then SIGKILL after `timeout_s`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Profiler:
    """py-spy recording the hub, when `--profile` asks for it (py-spy is optional)."""

    def __init__(self, pid: int, out: Path, rate_hz: int = 250) -> None:
        self.out = out
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise SystemExit(
                "--profile needs py-spy: `.venv/bin/pip install py-spy` (not a dependency)"
            )
        self.command = [
            exe, "record", "--pid", str(pid), "--rate", str(rate_hz), "--format", "raw",
            "--nonblocking", "--output", str(out),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start sampling."""
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        """Stop sampling and let py-spy write its file."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@dataclass
class TownUnderTest:
    """Redis and hub started for one benchmark."""

    hub: HubProcess
    redis_pid: int
    redis_url: str
    workdir: Path


@contextlib.contextmanager
def town_under_test(
    results_dir: Path, *, aof: bool = True, aof_rewrite: bool = True
) -> Iterator[TownUnderTest]:
    """An embedded redis-server and a `vigie serve` on it; both stopped on exit.

    `aof_rewrite` False: Redis never rewrites its append-only file (a diagnostic:
    the rewrite's child takes a core, docs/deploy.md).
    """
    from redis import Redis

    from hub.store.embedded import EmbeddedRedis

    results_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
        workdir = Path(tmp)
        extra = () if aof_rewrite else ("--auto-aof-rewrite-percentage", "0")
        with EmbeddedRedis(workdir / "redis", appendonly=aof, extra_args=extra) as redis_server:
            client = Redis.from_url(redis_server.url)
            redis_pid = int(client.info("server")["process_id"])
            client.close()
            hub = HubProcess(redis_server.url, log_path=results_dir / "hub.log")
            hub.start()
            try:
                yield TownUnderTest(hub, redis_pid, redis_server.url, workdir)
            finally:
                hub.stop()
