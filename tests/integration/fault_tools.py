"""Tools shared by the fault-injection tests (tests/integration/test_fault_*.py).

* `Ledger` / `Tally`: count what one client received per stream, deduplicate by
  offset exactly as a client must (protocol.md, Recovery), and compare with the
  Redis stream, the source of truth; every scenario ends with `Tally.check`,
  which prints ``sent N, acked N, delivered N, lost 0, duplicates after dedupe 0``
  and asserts the last two are zero.
* `ServeProcess`: a real ``vigie serve`` program (one or several uvicorn worker
  processes behind one port) on a free port, for the faults that need processes
  to die: kill -9, SIGHUP, SIGTERM, memory of the process.
* `/proc` readers (worker pids, RSS, CPU) and Redis counters (commands processed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
from bench.frames import OP_TEXT, FrameReader, check_response, encode_frame, handshake_request
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed

from hub.core.offsets import offset_key
from hub.store.keys import TenantKeys
from hub.store.store import StreamEntry, decode_entry
from tests.wire import SECRET, open_peer, token

TENANT = "narbonne"
KEYS = TenantKeys(TENANT)
CENTRE = (43.1839, 3.0042)
ROOT = Path(__file__).resolve().parents[2]
VIGIE = Path(sys.executable).with_name("vigie")


def no_alert_limit(config: Any) -> Any:
    """The config without the per-citizen alert limit: these scenarios are about delivery."""
    tenants = {
        k: replace(t, alert_rate_limit=replace(t.alert_rate_limit, count=0))
        for k, t in config.tenants.items()
    }
    return replace(config, tenants=tenants)


def near(i: int, spread: int = 6) -> tuple[float, float]:
    """Distinct points ~170 m apart around the centre (inside one res-7 sector)."""
    return CENTRE[0] + 0.0015 * (i % spread), CENTRE[1] + 0.0015 * ((i // spread) % spread)


# -- counting -----------------------------------------------------------------------------


def logical_key(message: Mapping[str, Any]) -> str:
    """A message's content without its stream position: the same event delivered
    twice under two offsets (a double write) has the same logical key."""
    body = {k: v for k, v in message.items() if k not in ("stream", "offset")}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


# Durable messages that each state one fact once (an incident's new state, an offer,
# an assignment's end, an alert's new status): the same content twice is a duplicate.
FACTS = frozenset({"incident", "assignment", "assignment.state", "alert.status"})


@dataclass
class Ledger:
    """What one client accepted on one stream, deduplicated by offset like a client does."""

    last: tuple[int, int] = (0, 0)
    raw: int = 0  # frames received with an offset, duplicates included
    dropped: int = 0  # frames dropped by the offset dedupe (<= last accepted)
    accepted: list[str] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)

    def offer(self, message: Mapping[str, Any]) -> bool:
        """Feed one received message that carries an offset; False when it is a duplicate."""
        self.raw += 1
        key = offset_key(message["offset"])
        if key <= self.last:
            self.dropped += 1
            return False
        self.last = key
        self.accepted.append(message["offset"])
        if message.get("type") in FACTS:
            self.bodies[logical_key(message)] += 1
        return True

    def force(self, offset: str) -> None:
        """A snapshot's offset: accepted state as of there (live continues after it)."""
        self.last = offset_key(offset)

    @property
    def resume(self) -> str | None:
        """The `hello.resume` value for this stream."""
        return None if self.last == (0, 0) else f"{self.last[0]}-{self.last[1]}"

    def duplicates(self) -> int:
        """Messages accepted twice after dedupe (same content under a new offset)."""
        return sum(n - 1 for n in self.bodies.values() if n > 1)

    def lost(self, expected: Iterable[str]) -> int:
        """Expected offsets this client never accepted."""
        return len(set(expected) - set(self.accepted))


@dataclass
class Tally:
    """The scenario's line: sent, acked, delivered, lost, duplicates after dedupe."""

    scenario: str
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0

    def add_client(self, ledger: Ledger, expected: Iterable[str]) -> None:
        """Count one client's deliveries of `expected` (the offsets it must have)."""
        expected = set(expected)
        self.delivered += len(expected & set(ledger.accepted))
        self.lost += ledger.lost(expected)
        self.duplicates += ledger.duplicates()

    def line(self) -> str:
        return (
            f"sent {self.sent}, acked {self.acked}, delivered {self.delivered}, "
            f"lost {self.lost}, duplicates after dedupe {self.duplicates}"
        )

    def check(self, **figures: object) -> None:
        """Print the line (and the scenario's figures), then assert nothing was lost."""
        extra = "".join(f"; {k} {v}" for k, v in figures.items())
        print(f"\n[{self.scenario}] {self.line()}{extra}", flush=True)
        assert self.lost == 0, self.line()
        assert self.duplicates == 0, self.line()


# -- Redis: the source of truth -----------------------------------------------------------


async def submit_counted(citizen: Any, tally: Tally, n: int, text: str = "") -> None:
    """A raw peer submits alert `n` at the centre; counted sent, and acked once acked."""
    tally.sent += 1
    message = {"type": "alert.submit", "ref": f"r{n}", "category": "noise",
               "lat": CENTRE[0], "lon": CENTRE[1]}  # fmt: skip
    if text:
        message["text"] = text
    ack = await citizen.request(message)
    assert ack["type"] == "alert.ack", ack
    tally.acked += 1


async def stream_entries(redis: Redis, key: str = KEYS.events) -> list[StreamEntry]:
    """Every retained entry of a stream, oldest first."""
    return [decode_entry(i, f) for i, f in await redis.xrange(key, "-", "+")]


async def incident_offsets(redis: Redis) -> list[str]:
    """Offsets of the tenant stream's `incident` events: what a console must receive."""
    return [e.offset for e in await stream_entries(redis) if e.kind == "incident"]


async def scan_keys(redis: Redis, pattern: str) -> set[str]:
    """Every key matching `pattern`, decoded."""
    return {k.decode() async for k in redis.scan_iter(match=pattern, count=1000)}


async def commands_processed(redis: Redis) -> int:
    """Redis's total_commands_processed counter."""
    info = await redis.info("stats")
    return int(info["total_commands_processed"])


async def redis_cpu_s(redis: Redis) -> float:
    """CPU seconds Redis used so far (user + sys, main thread and children)."""
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class CpuSampler:
    """Samples Redis's CPU use every `period_s`; `peak` is the busiest period, in % of a core.

    Stopped by a flag, not by cancelling it: a cancel that lands inside redis-py's
    own timeout block can be swallowed (redis/redis-py#2551, #2028), and the sampler
    would go on until the second cancel of `join_tasks`. A sample under way ends
    within the client's socket timeout.
    """

    def __init__(self, redis: Redis, period_s: float = 0.25, stop_within_s: float = 35.0) -> None:
        self.redis, self.period_s, self.stop_within_s = redis, period_s, stop_within_s
        self.peak = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last_cpu, last_t = await redis_cpu_s(self.redis), time.monotonic()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.period_s)
                return
            cpu, now = await redis_cpu_s(self.redis), time.monotonic()
            self.peak = max(self.peak, 100 * (cpu - last_cpu) / (now - last_t))
            last_cpu, last_t = cpu, now

    async def __aenter__(self) -> CpuSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._stop.set()
        await join_tasks([self._task], self.stop_within_s)


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    """Direct children of a process (every thread's children, from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return sorted(set(found))


def worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes under the supervisor `parent` (multiprocessing spawn)."""
    out = []
    for pid in children(parent):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                out.append(pid)
    return out


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def write_config(path: Path, **hub: object) -> Path:
    """A copy of config/narbonne.toml with [hub] keys set (strings quoted, numbers not)."""
    lines = (ROOT / "config" / "narbonne.toml").read_text().splitlines()
    out, in_hub = [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if in_hub:
                out += [f"{k} = {orjson.dumps(v).decode()}" for k, v in hub.items()]
            in_hub = stripped == "[hub]"
        elif in_hub and stripped.split("=")[0].strip() in hub:
            continue
        out.append(line)
    path.write_text("\n".join(out) + "\n")
    return path


@dataclass
class ServeProcess:
    """A running `vigie serve` program (the supervisor when --workers > 1)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The serving processes: the workers, or the program itself with one worker."""
        return worker_pids(self.pid) or [self.pid]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


async def wait_healthy(http_url: str, timeout: float = 20.0, *, status: int = 200) -> None:
    """Poll /healthz until it answers `status`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{http_url}/healthz", timeout=2)).status_code == status:
                    return
            if loop.time() > deadline:
                raise TimeoutError(f"{http_url}/healthz never answered {status}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def serve(
    tmp_path: Path,
    redis_url: str,
    *,
    workers: int = 1,
    config: Path | None = None,
    limits_off: bool = True,
    port: int | None = None,
    healthy_timeout: float = 20.0,
) -> AsyncIterator[ServeProcess]:
    """Run `vigie serve` until the block ends (then SIGTERM, SIGKILL after 15 s).

    The block starts once /healthz answers 200, within `healthy_timeout` seconds.
    """
    port = port or free_port()
    env = {**os.environ, "VIGIE_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    env.pop("VIGIE_LIMITS", None)
    if limits_off:
        env["VIGIE_LIMITS"] = "off"
    cmd = [str(VIGIE) if VIGIE.exists() else shutil.which("vigie") or "vigie", "serve"]
    cmd += ["--port", str(port), "--redis-url", redis_url, "--workers", str(workers)]
    cmd += ["--log-level", "warning"]
    if config is not None:
        cmd += ["--config", str(config)]
    log = tmp_path / f"serve-{port}-{time.monotonic_ns()}.log"
    running = ServeProcess(_spawn(cmd, env, log), port, log)
    process = running.process
    try:
        await wait_healthy(running.http_url, healthy_timeout)
        if workers > 1:  # every worker must be serving, not just the first one up
            await wait_workers_serving(running, redis_url, workers)
        yield running
    finally:
        await stop_process(process)


async def serving_pids(redis: Redis) -> set[int]:
    """Processes that wrote a canary lately (their stream follower runs)."""
    return {pid for _, pid in await canaries(redis)}


async def canaries(redis: Redis) -> list[tuple[float, int]]:
    """(wall-clock time in s, pid) of each canary retained (CANARY_MAXLEN), oldest first."""
    entries = await redis.xrange(KEYS.canary, "-", "+")
    return [
        (int(entry_id.split(b"-")[0]) / 1000, int(orjson.loads(f[b"d"])["node"].rsplit(":", 1)[1]))
        for entry_id, f in entries
    ]


async def wait_workers_serving(
    running: ServeProcess, redis_url: str, count: int, timeout: float = 30.0
) -> list[int]:
    """Wait until `count` worker processes run and each wrote its canary (lifespan done)."""
    async with Redis.from_url(redis_url) as redis, asyncio.timeout(timeout):
        while True:
            pids = running.workers()
            if len(pids) == count and set(pids) <= await serving_pids(redis):
                return pids
            await asyncio.sleep(0.1)


def _spawn(cmd: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


async def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL (the process and its children) after `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: process.poll() is not None, timeout, 0.05)
        if process.poll() is None:
            for pid in children(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.kill()
    process.wait()


async def eventually(check: Any, timeout: float = 10.0, period: float = 0.02) -> None:
    """Wait until `check()` is true (TimeoutError after `timeout` seconds)."""
    async with asyncio.timeout(timeout):
        while True:
            if check():
                return
            await asyncio.sleep(period)


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], timeout: float = 10.0) -> None:
    """Cancel `tasks` and wait for them to end, at most `timeout` seconds.

    Not `task.cancel(); with suppress(CancelledError): await task`, which swallows
    the caller's own cancellation (a test's deadline: tests/conftest.py) and stops
    at the first task's error, leaving the others (and their sockets) running.
    Raises the first error a task died of, or TimeoutError if one would not stop.
    """
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await join_tasks(tasks, timeout)


async def join_tasks(tasks: Iterable[asyncio.Task[Any]], timeout: float) -> None:
    """Wait up to `timeout` seconds for `tasks` to end, then cancel the rest (bounded).

    Raises the first error a task died of, or TimeoutError if some had to be
    cancelled.
    """
    tasks = list(tasks)
    late: set[asyncio.Task[Any]] = set()
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()
    if late:
        _, stuck = await asyncio.wait(late, timeout=5)
        if stuck:
            raise TimeoutError(f"{len(stuck)} of {len(tasks)} tasks ignore cancellation")
    errors = [e for t in tasks if not t.cancelled() and (e := t.exception()) is not None]
    if errors:
        raise errors[0]
    if late:
        raise TimeoutError(f"{len(late)} of {len(tasks)} tasks still running after {timeout:g} s")


# -- a raw resuming client ------------------------------------------------------------------


class Follower:
    """A raw protocol client (tests/wire.py peers) that counts what it receives per
    stream, can be dropped at any moment (TCP abort: no close frame) and reconnects
    with `hello.resume` built from its ledgers. No client-library logic involved."""

    def __init__(self, url: str, role: str, sub: str, codec: str = "json") -> None:
        self.url, self.role, self.sub, self.codec = url, role, sub, codec
        self.ledgers: dict[str, Ledger] = {"events": Ledger(), "inbox": Ledger()}
        self.sessions = 0
        self.drops = 0
        self.close_codes: list[int | None] = []
        self.types: Counter[str] = Counter()
        self.peer: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._seq = 0

    async def connect(self) -> dict[str, Any]:
        """Open a session resuming from what was accepted so far; returns the welcome.

        A console's or unit's session without `resume.events` starts with a snapshot:
        this returns once it arrived. Else an event written meanwhile may be in the
        snapshot rather than delivered, and the ledger, which counts deliveries,
        would call it lost.
        """
        self.peer = peer = await open_peer(self.url, self.codec)
        try:
            hello: dict[str, Any] = {"type": "hello", "token": token(self.role, self.sub)}
            resume = {s: r for s, ledger in self.ledgers.items() if (r := ledger.resume)}
            if resume:
                hello["resume"] = resume
            await peer.send(hello)
            welcome = await peer.recv()
            assert welcome["type"] == "welcome", welcome
            self.sessions += 1
            snapshots = self.types["snapshot"]
            self._reader = asyncio.create_task(self._read(peer))
            if self.role != "citizen" and "events" not in resume:
                await eventually(lambda: self.types["snapshot"] > snapshots, 5.0)
        except BaseException:
            await peer.close()  # a failed attempt leaves no socket or reader behind
            await self._join_reader()
            raise
        return welcome

    async def _read(self, peer: Any) -> None:
        try:
            while True:
                message = await peer.recv(timeout=3600)
                self.on_message(message)
        except ConnectionClosed:
            self.close_codes.append(peer.ws.close_code)

    def on_message(self, message: dict[str, Any]) -> None:
        self.types[message["type"]] += 1
        ref = message.get("ref")
        if isinstance(ref, str) and ref in self._replies and "offset" not in message:
            self._replies.pop(ref).set_result(message)
            return
        stream, offset = message.get("stream"), message.get("offset")
        if message["type"] == "reset" and isinstance(stream, str):
            self.ledgers[stream].last = (0, 0)
        elif isinstance(stream, str) and isinstance(offset, str):
            if message["type"] == "snapshot":
                self.ledgers[stream].force(offset)
            else:
                self.ledgers[stream].offer(message)

    async def request(self, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        self._seq += 1
        ref = message.get("ref") or f"{self.sub}-{self._seq}"
        future = asyncio.get_running_loop().create_future()
        self._replies[ref] = future
        await self.peer.send({**message, "ref": ref})
        return await asyncio.wait_for(future, timeout)

    async def drop(self) -> None:
        """Lose the connection abruptly (no close frame: what a dead radio link looks like)."""
        self.drops += 1
        self.peer.ws.transport.abort()
        await self._join_reader()

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()  # bounded by websockets' close_timeout (10 s)
        await self._join_reader()

    async def _join_reader(self) -> None:
        """Let the reader see the end of the session (its close code), then stop it."""
        if self._reader is not None:
            await join_tasks([self._reader], 5)


class Counted:
    """Ledgers fed by a client-library connection's listener (after the library's
    own offset dedupe, which `Connection.duplicates` counts)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.ledgers: dict[str, Ledger] = {"events": Ledger(), "inbox": Ledger()}
        self.messages: list[dict[str, Any]] = []
        self.welcomed_at: list[float] = []  # monotonic time of each session's welcome
        conn.add_listener(self._on)

    def _on(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "welcome":
            self.welcomed_at.append(time.monotonic())
        stream, offset = message.get("stream"), message.get("offset")
        if message["type"] == "reset" and isinstance(stream, str):
            self.ledgers[stream].last = (0, 0)
        elif isinstance(stream, str) and isinstance(offset, str):
            if message["type"] == "snapshot":
                self.ledgers[stream].force(offset)
            else:
                self.ledgers[stream].offer(message)

    def of_type(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages
            if m["type"] == kind and all(m.get(k) == v for k, v in fields.items())
        ]


async def tally_stored(
    redis: Redis, tally: Tally, counted: Iterable[Counted], settle_s: float = 0.2
) -> set[str]:
    """Wait until every counted client has the stream's last incident event, leave
    `settle_s` for a late duplicate, add their events ledgers to `tally`, and return
    the ids of the alerts stored in `redis` (what the acks are compared with)."""
    counted = list(counted)
    expected = await incident_offsets(redis)
    last = max(offset_key(o) for o in expected)
    await eventually(lambda: all(c.ledgers["events"].last >= last for c in counted), 15)
    await asyncio.sleep(settle_s)
    for client in counted:
        tally.add_client(client.ledgers["events"], expected)
    return {k.rsplit(":", 1)[1] for k in await scan_keys(redis, KEYS.alert("*"))}


# -- a raw WebSocket socket that can stop reading -----------------------------------------


class RawSocket:
    """A WebSocket client on a bare socket: handshake and hello, then it reads only
    when told to (or, in `StormClient`, all the time).

    The framing is `bench.frames`, the load generator's: pings are answered with
    pongs, the hub's close frame with a close, fragmented messages reassembled.
    """

    def __init__(self, sock: socket.socket, keep: bool = False) -> None:
        self.sock = sock
        self.keep = keep  # decode and keep the messages (else only count them)
        self.messages: list[dict[str, Any]] = []
        self.frames = 0  # data messages received
        self.reader = FrameReader()
        self.eof = False

    @property
    def close_code(self) -> int | None:
        """The code of the hub's close frame, once received."""
        return self.reader.close_code

    @classmethod
    async def open(
        cls, port: int, hello: Mapping[str, Any], *, keep: bool = False, small: bool = True
    ) -> RawSocket:
        """Connect, upgrade and send `hello` (`keep`: decode and keep what arrives).

        `small` (for clients that stop reading): a 4 KiB receive buffer and a small
        advertised MSS, which keeps the hub's kernel send buffer small too (Linux sizes
        it from cwnd x MSS, and loopback's MSS is 64 KiB), so that the hub's own
        buffers, the ones under test, fill after a hundred frames, not megabytes.
        """
        sock = socket.socket()
        if small:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        sock.setblocking(False)
        try:
            return await cls._handshake(sock, port, hello, keep)
        except BaseException:
            sock.close()
            raise

    @classmethod
    async def _handshake(
        cls, sock: socket.socket, port: int, hello: Mapping[str, Any], keep: bool
    ) -> RawSocket:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", port))
        request, key = handshake_request("127.0.0.1", port, "/ws", "vigie.v1.json")
        await loop.sock_sendall(sock, request)
        received = bytearray()
        while b"\r\n\r\n" not in received:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                raise ConnectionError("handshake refused")
            received += chunk
        head, _, rest = bytes(received).partition(b"\r\n\r\n")
        check_response(head, key)  # HandshakeError, an OSError, when refused
        await loop.sock_sendall(sock, encode_frame(OP_TEXT, orjson.dumps(dict(hello))))
        raw = cls(sock, keep)
        await raw._take(rest)
        return raw

    async def _take(self, data: bytes) -> None:
        """Parse what arrived and send what it calls for (pongs, the close echo)."""
        for opcode, payload in self.reader.feed(data):
            self.frames += 1
            if self.keep:
                assert opcode == OP_TEXT, "vigie.v1.json sends text frames"
                self.messages.append(orjson.loads(payload))
        if reply := self.reader.data_to_send():
            # The hub may be gone already: the next read says so (EOF or reset).
            with contextlib.suppress(OSError):
                await asyncio.get_running_loop().sock_sendall(self.sock, reply)

    async def receive(self, size: int = 262144) -> bool:
        """Read once (waiting for data) and handle what came; False at EOF.

        A reset counts as EOF: the hub ended the connection, closing its socket
        with bytes of ours it had not read (a slow client's pongs, say).
        """
        try:
            chunk = await asyncio.get_running_loop().sock_recv(self.sock, size)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        await self._take(chunk)
        return True

    async def read_until_closed(self, timeout: float) -> int | None:
        """Read (and count messages) until the hub's close frame or EOF; the close code."""
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(timeout):
                while self.close_code is None and await self.receive():
                    pass
        return self.close_code

    def close(self) -> None:
        self.sock.close()


class StormClient:
    """A lean resuming client for thousands-at-once scenarios (the client library's
    per-connection machinery costs more CPU than the hub under test on two cores).

    It reconnects on every close with exponential backoff and full jitter
    (`clients.recovery.Backoff`), sends `hello.resume` with the last inbox offset it
    processed, and records how each attempt ended.
    """

    def __init__(self, port: int, role: str, sub: str, backoff: Any) -> None:
        self.port, self.role, self.sub, self.backoff = port, role, sub, backoff
        self.inbox = Ledger()
        self.events = Ledger()
        self.outcomes: Counter[int | str] = Counter()  # close codes, "refused", "welcome"
        self.connected = asyncio.Event()
        self.sessions = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await stop_storm([self])

    def _hello(self) -> dict[str, Any]:
        hello: dict[str, Any] = {"type": "hello", "token": token(self.role, self.sub)}
        resume = {
            s: r for s, r in (("inbox", self.inbox.resume), ("events", self.events.resume)) if r
        }
        if resume:
            hello["resume"] = resume
        return hello

    async def _run(self) -> None:
        attempt = 0
        while True:
            code = await self._session()
            self.connected.clear()
            attempt = 0 if code in (1001, 1012) and self.sessions else attempt + 1
            await asyncio.sleep(self.backoff.delay(attempt))

    async def _session(self) -> int | str:
        sock: RawSocket | None = None
        try:
            sock = await RawSocket.open(self.port, self._hello(), keep=True, small=False)
            while True:
                while sock.messages:
                    self._on(sock.messages.pop(0))
                if sock.close_code is not None:
                    self.outcomes[sock.close_code] += 1
                    return sock.close_code
                if not await sock.receive(65536):
                    self.outcomes["eof"] += 1
                    return "eof"
        except OSError:  # refused, reset, or the HTTP upgrade was refused
            self.outcomes["refused"] += 1
            return "refused"
        finally:
            if sock is not None:
                sock.close()

    def _on(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "welcome":
            self.sessions += 1
            self.outcomes["welcome"] += 1
            self.connected.set()
        elif kind == "snapshot":
            self.events.force(message["offset"])
        elif message.get("stream") == "inbox":
            self.inbox.offer(message)
        elif message.get("stream") == "events":
            self.events.offer(message)


async def stop_storm(clients: Iterable[StormClient], timeout: float = 10.0) -> None:
    """Stop storm clients all at once (bounded); the first error one of them died of."""
    await stop_tasks([c._task for c in clients if c._task is not None], timeout)
