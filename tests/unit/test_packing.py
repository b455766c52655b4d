"""hiredis packs the hub's commands to the bytes redis-py's Python packer builds."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from hub.store.client import redis_client
from hub.store.packing import (
    HiredisPacking,
    PackedConnection,
    PackedSSLConnection,
    PackedUnixConnection,
)

COMMANDS: list[tuple[Any, ...]] = [
    ("EVALSHA", "a" * 40, 3, "{t}:seq", "{t}:idem:c:r", "{t}:events", "{t}:", "cit-1",
     "ref-é", "noise", repr(43.18), repr(3.0), "8a2a1072b59ffff", "", 1733060000000,
     600000, b'[[1,2.5]]', b"{}", 0, -1),
    ("XADD", "{t}:events", "MAXLEN", "~", 100000, "*", "data", b"\x00\xff\x81msgpack"),
    ("XREAD", "BLOCK", 1000, "COUNT", 256, "STREAMS", "{t}:events", "1733060000000-0"),
    ("SET", "k", 0.1, "PX", 60000),
    ("HSET", "k", "f", 1e20, "g", -0.0, "h", 10**20, "i", memoryview(b"mv")),
    ("CONFIG GET", "maxmemory"),  # a two-word command name is split by both
    ("WAIT", 1, 1000),
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_hiredis_packs_the_same_bytes_as_redis_py(command: tuple[Any, ...]) -> None:
    python = b"".join(Connection().pack_command(*command))
    assert b"".join(PackedConnection().pack_command(*command)) == python


@pytest.mark.parametrize("bad", [None, True, [1]])
def test_a_value_neither_packer_takes_is_a_data_error(bad: object) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        PackedConnection().pack_command("SET", "k", bad)


@pytest.mark.parametrize(
    ("url", "packed"),
    [
        ("redis://127.0.0.1:6379/0", PackedConnection),
        ("rediss://127.0.0.1:6380/0", PackedSSLConnection),
        ("unix:///tmp/redis.sock", PackedUnixConnection),
    ],
)
def test_one_server_clients_pack_with_hiredis(url: str, packed: type) -> None:
    client = redis_client(url)  # builds the pool; connects to nothing
    assert client.connection_pool.connection_class is packed  # type: ignore[union-attr]


def test_a_sentinel_primary_packs_with_hiredis() -> None:
    client = redis_client("redis+sentinel://127.0.0.1:26379/vigie")
    assert issubclass(client.connection_pool.connection_class, HiredisPacking)  # type: ignore[union-attr]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis+sentinel://127.0.0.1:26379/v"])
def test_new_connections_share_one_driver_info(url: str) -> None:
    # redis-py would otherwise read its version from the package metadata for each
    # new connection (1.2 ms), in the loop, while the pool grows at a peak.
    pool = redis_client(url).connection_pool  # type: ignore[union-attr]
    first, second = pool.make_connection(), pool.make_connection()
    assert first.driver_info is second.driver_info is not None
    assert first.driver_info.lib_version  # CLIENT SETINFO still says which redis-py
