"""Commands packed by hiredis's C packer on the hub's asyncio connections.

redis-py's *synchronous* connections pack each command with `hiredis.pack_command`
when hiredis is installed (`redis.connection.HiredisRespSerializer`); its asyncio
connections always use the pure-Python packer. The submit script's call (about
35 arguments) took 113 µs to pack in Python and 25 µs through hiredis on the
development VM: about a tenth of the hub's CPU per alert at 800 alerts/s
(`AbstractConnection.pack_command` and `Encoder.encode` in the profile). The
bytes are the same (tests/unit/test_packing.py); a value neither packer takes
(None, a bool) raises redis-py's `DataError` either way.

The classes below are redis-py's asyncio connections with that one method
replaced; `hub.store.client` picks them for one server and for a Sentinel
primary. A cluster keeps redis-py's own connections: `RedisCluster` names its
connection class itself for every node it discovers.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.connection import HiredisRespSerializer

__all__ = ["PACKED", "HiredisPacking", "packed_class"]

_SERIALIZER = HiredisRespSerializer()


class HiredisPacking:
    """Mixin: `pack_command` through hiredis (put it before the connection class)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        """The RESP bytes of one command, as redis-py's sync connections build them."""
        return _SERIALIZER.pack(*args)  # type: ignore[no-any-return]


class PackedConnection(HiredisPacking, Connection):
    """A TCP connection whose commands hiredis packs."""


class PackedSSLConnection(HiredisPacking, SSLConnection):
    """A TLS connection whose commands hiredis packs."""


class PackedUnixConnection(HiredisPacking, UnixDomainSocketConnection):
    """A Unix-socket connection whose commands hiredis packs."""


PACKED: dict[type[Any], type[Any]] = {
    Connection: PackedConnection,
    SSLConnection: PackedSSLConnection,
    UnixDomainSocketConnection: PackedUnixConnection,
}
"""redis-py's connection class (as `parse_url` picks it) → the packed one."""


def packed_class(connection_class: type[Any]) -> type[Any]:
    """The packed variant of `connection_class` (itself when it has none)."""
    return PACKED.get(connection_class, connection_class)
