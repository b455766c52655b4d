"""The Redis client the hub talks through: one server, a Sentinel-watched primary or a
Redis Cluster, from a URL.

Everything else in hub/store takes a `RedisLike` and calls the commands both
clients share (EVALSHA, XADD/XREAD/XRANGE/XREVRANGE, hashes, sorted sets,
non-transactional pipelines, SET NX PX). That works on a cluster because every
key of a tenant carries the hash tag ``{tenant}`` (hub/store/keys.py): a
script's keys, declared or built inside the script from the tenant prefix, all
hash to the tenant's one slot, so one shard serves each call.

URL schemes:

- ``redis://[user:password@]host[:port][/db]``, ``rediss://…`` (TLS) and
  ``unix:///path/to/redis.sock`` — one Redis server (`redis.asyncio.Redis`);
- ``redis+cluster://[user:password@]host:port[,host:port...]`` and
  ``rediss+cluster://…`` (TLS) — a Redis Cluster (`ClusterClient`, redis-py's
  `RedisCluster` with two adjustments). The listed nodes are only the
  *startup* nodes: the client asks them for the slot map (CLUSTER SLOTS) and
  then talks to whichever shard owns a key, following MOVED/ASK redirections.
  List two or three nodes so the hub can start while one is down. A cluster has
  database 0 only, so the URL takes no path (or ``/0``) and no query string.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]``
  and ``rediss+sentinel://…`` (TLS, to the Sentinels and the data nodes) — the
  primary that the listed Sentinels name for ``service_name`` (`SentinelClient`,
  redis-py's asyncio Sentinel support). Every new connection asks the Sentinels
  where the primary is, so after a failover the pool reconnects to the promoted
  replica; a connection still open to a demoted primary is dropped at its first
  ``READONLY`` reply. The user and password are the data nodes' (Sentinels
  without ``requirepass``; see docs/deploy.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, parse_url
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.driver_info import DriverInfo
from redis.exceptions import (
    ConnectionError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
)
from redis.typing import EncodableT

from hub.store.packing import HiredisPacking, packed_class

__all__ = [
    "CLUSTER_SCHEMES",
    "SENTINEL_SCHEMES",
    "ClusterClient",
    "ClusterUnavailableError",
    "RedisLike",
    "SentinelClient",
    "SentinelTarget",
    "cluster_startup_nodes",
    "is_read_only",
    "parse_sentinel_url",
    "redis_client",
]

RedisLike: TypeAlias = Redis | RedisCluster
"""Either client: hub/store uses only what both offer."""

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
POOL_WAIT_S = 5.0  # how long a command may wait for a free pooled connection
_DEFAULT_PORT = 6379
_SENTINEL_PORT = 26379


class ClusterUnavailableError(ConnectionError):
    """No usable cluster topology: no startup node answers, or a slot has no master."""


class ClusterClient(RedisCluster):
    """`RedisCluster` with the two adjustments the hub needs.

    1. Failures are `RedisError`s, as with one server. redis-py raises a bare
       `RedisClusterException` (not a `RedisError`) when no node can be reached
       and `SlotNotCoveredError` when a slot has no master; the hub's
       "Redis unavailable: retry and report unhealthy" handling catches
       `RedisError`, so both become `ClusterUnavailableError` (a `ConnectionError`).
    2. XREAD goes straight to the master of its streams' slot. redis-py cannot
       find XREAD's keys by itself (the STREAMS keyword makes them "movable") and
       asks one default node with COMMAND GETKEYS, twice, before every XREAD:
       three round trips instead of one on the hub's hottest read path, and every
       hub process hammering the same node. The hub's XREADs only name streams of
       one tenant (one slot), so the first key decides. MOVED/ASK are still
       followed; connection errors reach the caller, whose loop retries.
    """

    async def initialize(
        self,
        additional_startup_nodes_info: list[tuple[str, int]] | None = None,
        last_failed_node_name: str | None = None,
    ) -> ClusterClient:
        """Discover the topology (once); see `RedisCluster.initialize`."""
        try:
            await super().initialize(additional_startup_nodes_info, last_failed_node_name)
        except RedisClusterException as exc:
            raise ClusterUnavailableError(str(exc)) from exc
        return self

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        """Run a command on the node that serves its keys (XREAD: its first stream's)."""
        try:
            if "target_nodes" not in kwargs and args and _word(args[0]) == "XREAD":
                kwargs["target_nodes"] = await self._stream_node(args)
            return await super().execute_command(*args, **kwargs)
        except SlotNotCoveredError as exc:
            raise ClusterUnavailableError(str(exc)) from exc

    async def _stream_node(self, args: tuple[EncodableT, ...]) -> ClusterNode:
        await self.initialize()
        words = [_word(arg) for arg in args]
        first_key = args[words.index("STREAMS") + 1]
        node = self.get_node_from_key(first_key)  # type: ignore[arg-type]
        if node is None:  # only a replica lookup can find none
            raise ClusterUnavailableError(f"no master serves {first_key!r}")
        return node


READ_ONLY_TEXT = "can't write against a read only replica"


def is_read_only(exc: BaseException) -> bool:
    """Whether a Redis error is a replica's refusal to write (a demoted primary).

    Redis 7 answers ``READONLY …`` (redis-py: `ReadOnlyError`); Redis 6.2 wraps
    the same refusal inside the ``ERR`` text of a script that tried to write.
    """
    return isinstance(exc, ReadOnlyError) or (
        isinstance(exc, ResponseError) and READ_ONLY_TEXT in str(exc)
    )


class _ToPrimary(HiredisPacking, SentinelManagedConnection):
    """A connection to the primary that gives up on a demoted one (commands packed
    by hiredis: `hub.store.packing`).

    redis-py drops a connection whose command got ``READONLY`` (the server it
    talks to was demoted by a failover) only when the reply *starts* with it;
    a script's refusal on Redis 6.2 carries it inside an ``ERR`` text. Either
    way the connection is dropped and the command fails as a `ConnectionError`
    (an outage: retry), so the next one asks the Sentinels again.
    """

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read one reply; a READONLY one from a demoted primary becomes a ConnectionError."""
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if not is_read_only(exc):
                raise
            await self.disconnect()
            raise ConnectionError(
                "the primary was demoted (READONLY): asking the Sentinels"
            ) from exc


class _ToPrimaryTLS(_ToPrimary, SentinelManagedSSLConnection):
    """`_ToPrimary` over TLS."""


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's Sentinel pool that waits for a free connection, like the one-server pool."""


class SentinelClient(Redis):
    """The primary of a Sentinel-watched service; closing it closes the Sentinel links too."""

    sentinels: Sentinel | None = None

    async def follow_primary(self) -> None:
        """Ask the Sentinels which server is the primary; if it changed, drop the idle
        connections to the old one (those in use are dropped when they are released).

        A planned failover (`SENTINEL FAILOVER`) leaves the old primary running, and
        writable until the Sentinels demote it, seconds later: its connections see no
        error meanwhile, only WAITs that time out (its replica left it).
        """
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.get_master_address()  # type: ignore[no-untyped-call]

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the pool of the primary and the connections to the Sentinels."""
        await super().aclose(close_connection_pool)
        if self.sentinels is not None:
            await self.sentinels.aclose()


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL names."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The Sentinels, service name and database of a ``redis+sentinel://`` URL.

    Raises:
        ValueError: No Sentinel, no service name, a bad port or database, or a query string.
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{_redact(url)}: a Sentinel URL takes no query string or fragment")
    segments = [p for p in parts.path.split("/") if p]
    if not segments or len(segments) > 2:
        raise ValueError(f"{_redact(url)}: expected /service_name or /service_name/db")
    db_text = segments[1] if len(segments) == 2 else "0"
    if not db_text.isdigit():
        raise ValueError(f"{_redact(url)}: bad database {db_text!r}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    sentinels = [_node(url, spec, _SENTINEL_PORT) for spec in hosts.split(",") if spec.strip()]
    if not sentinels:
        raise ValueError(f"{_redact(url)}: list at least one Sentinel host:port")
    return SentinelTarget(
        sentinels, unquote(segments[0]), int(db_text), unquote(username) or None,
        unquote(password) or None, parts.scheme.lower() == "rediss+sentinel",
    )  # fmt: skip


def sentinel_client(url: str, **opts: Any) -> SentinelClient:
    """The primary of the service a ``redis+sentinel://`` URL names (see the module docstring)."""
    target = parse_sentinel_url(url)
    sentinel_opts = {k: v for k, v in opts.items() if k.startswith("socket_")}
    if target.tls:
        sentinel_opts["ssl"] = True
    sentinel = Sentinel(target.sentinels, sentinel_kwargs=sentinel_opts)  # type: ignore[no-untyped-call]
    client: SentinelClient = sentinel.master_for(
        target.service,
        redis_class=SentinelClient,
        connection_pool_class=_BlockingSentinelPool,
        connection_class=_ToPrimaryTLS if target.tls else _ToPrimary,
        timeout=POOL_WAIT_S,
        db=target.db,
        username=target.username,
        password=target.password,
        **opts,
    )
    client.sentinels = sentinel
    return client


def _word(arg: EncodableT) -> str:
    """A command word as text, upper case (arguments may be bytes or str)."""
    text = arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)
    return text.upper()


def redis_client(url: str, **opts: Any) -> RedisLike:
    """A client for `url`: a `Redis` for one server or a Sentinel-watched primary
    (`SentinelClient`), a `ClusterClient` for a cluster URL.

    Args:
        url: ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://`` or
            ``redis+cluster://`` (see the module docstring).
        **opts: Client options (timeouts, health checks, pool size), passed to
            either client. For a cluster, ``max_connections`` is per node.

    Raises:
        ValueError: A cluster or Sentinel URL without nodes, with a bad port, a
            bad database or a query string.
    """
    scheme = url.partition("://")[0].lower()
    # One DriverInfo for every connection: without it redis-py builds one per new
    # connection, reading the package's version from its metadata (1.2 ms) while
    # the pool grows at a peak, in the latency of every session.
    opts.setdefault("driver_info", DriverInfo())
    if scheme in SENTINEL_SCHEMES:
        return sentinel_client(url, **opts)
    if scheme not in CLUSTER_SCHEMES:
        # A burst (a reconnect storm, an intake spike) waits for a free connection
        # instead of failing with MaxConnectionsError: waiting is bounded too.
        # What `from_url` does, with the connection class swapped for the one whose
        # commands hiredis packs (hub.store.packing); the URL's options win, as there.
        options = {**opts, **parse_url(url)}
        options["connection_class"] = packed_class(options.get("connection_class", Connection))
        pool = BlockingConnectionPool(timeout=POOL_WAIT_S, **options)
        return Redis.from_pool(pool)
    username, password, nodes = _parse_cluster_url(url)
    return ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        ssl=scheme == "rediss+cluster",
        **opts,
    )


def cluster_startup_nodes(url: str) -> list[tuple[str, int]]:
    """The (host, port) startup nodes a ``redis+cluster://`` URL lists."""
    return _parse_cluster_url(url)[2]


def _parse_cluster_url(url: str) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{_redact(url)}: a cluster URL takes no query string or fragment")
    if parts.path not in ("", "/", "/0"):
        raise ValueError(f"{_redact(url)}: a Redis Cluster has database 0 only")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = [_node(url, spec, _DEFAULT_PORT) for spec in hosts.split(",") if spec.strip()]
    if not nodes:
        raise ValueError(f"{_redact(url)}: list at least one host:port")
    return unquote(username) or None, unquote(password) or None, nodes


def _node(url: str, spec: str, default_port: int) -> tuple[str, int]:
    spec = spec.strip()
    if spec.startswith("["):  # [IPv6]:port
        host, _, rest = spec[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = spec.rpartition(":") if ":" in spec else (spec, "", "")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"{_redact(url)}: bad port in {spec!r}") from None
    if not host or not 0 < port < 65536:
        raise ValueError(f"{_redact(url)}: bad node {spec!r}")
    return host, port


def _redact(url: str) -> str:
    # Error messages end up in logs: never repeat a password.
    scheme, sep, rest = url.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{hosts}"
