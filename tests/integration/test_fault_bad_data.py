"""Fault: corrupt records written straight into Redis (issue 8, item 4).

An operator's mistake, a bug in an older version or a partial restore leaves:
stream entries with missing or garbage fields, incident hashes with garbage in
a number, keys of the wrong type (a string where an incident or a unit hash
should be, for an incident in the queue and a unit on the board), deadlines
for assignments that do not exist, a broken entry in a unit's inbox. Some are
there before the hub starts, some arrive while citizens report. The hub must
log and skip each one, count it in /metrics, keep /healthz truthful (healthy:
nothing is wrong with this process) and deliver every good incident event to
every client: live, replaying, and from a snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import h3
import httpx
import orjson
import pytest
from redis.asyncio import Redis

from hub.config import Config
from hub.core.offsets import offset_key
from hub.server import timers
from hub.server.runner import RunningHub
from hub.store.store import StreamEntry, read_entry
from tests.conftest import HubFactory
from tests.integration.fault_tools import (
    CENTRE,
    KEYS,
    Follower,
    Ledger,
    Tally,
    eventually,
    near,
    no_alert_limit,
)
from tests.wire import connect, token

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
ALERTS = 48
UNIT_NOWHERE = {"id": "u-ghost", "cell": "nowhere", "status": "available"}
BAD_ENTRIES: list[dict[str | bytes, str | bytes]] = [
    {"x": "neither k nor d"},
    {"k": "incident", "d": "{not json"},
    {"k": "incident", "d": "[1, 2]"},
    {"k": "incident", "d": '{"type": "incident"}'},  # no incident in it
    {"k": b"\xff\xfe", "d": b"\xfe"},  # not UTF-8
    {"k": "unit", "d": orjson.dumps({"type": "unit", "change": "status", "unit": UNIT_NOWHERE})},
]
BAD_INCIDENTS = ("bad-num", "bad-type")
BAD_UNITS = ("u-type", "u-garbage")
BAD_DEADLINES = ("asg-ghost", "asg-type")


async def corrupt_at_rest(redis: Redis, cell: str) -> None:
    """What the hub finds when it starts: bad incidents, units, deadlines, inbox, cell set."""
    now = int(time.time() * 1000)
    await redis.hset(
        KEYS.incident("bad-num"),
        mapping={"id": "bad-num", "category": "noise", "priority": "high", "score": "5",
                 "cell": cell, "status": "open", "reports": "1", "reporters": "1",
                 "opened_at": "yesterday"},
    )  # fmt: skip
    await redis.set(KEYS.incident("bad-type"), b"a string where a hash belongs")
    for incident in BAD_INCIDENTS:  # queued, live, and grouping candidates at the centre
        await redis.zadd(KEYS.open_queue, {incident: 5})
        await redis.zadd(KEYS.live, {incident: 5})
        await redis.zadd(KEYS.cell(cell), {f"noise|{incident}": now})
    await redis.zadd(KEYS.cell(cell), {"no-separator": now})
    await redis.zadd(KEYS.open_queue, {b"\xff\xfe": 1})  # an id that is not UTF-8
    await redis.hset(KEYS.incident("bad-status"), mapping={"priority": "2", "status": b"\xff"})
    await redis.zadd(KEYS.open_queue, {"bad-status": 1})
    await redis.set(KEYS.unit("u-type"), b"a string where a hash belongs")
    await redis.hset(
        KEYS.unit("u-garbage"),
        mapping={"id": "u-garbage", "status": "available", "sessions": "1",
                 "cell": "nowhere", "sector": "[nope"},
    )  # fmt: skip
    await redis.sadd(KEYS.units, *BAD_UNITS)
    await redis.set(KEYS.assignment("asg-type"), b"a string where a hash belongs")
    await redis.zadd(KEYS.deadlines, dict.fromkeys(BAD_DEADLINES, 0))
    await redis.xadd(KEYS.inbox("unit", "u-raw"), {"k": "assignment", "d": "{broken"})


async def good_incident_offsets(redis: Redis, after: str = "-") -> list[str]:
    """Offsets of the well-formed incident entries of the tenant stream."""
    start = after if after == "-" else f"({after}"
    entries = [read_entry(i, f, "events") for i, f in await redis.xrange(KEYS.events, start, "+")]
    return [e.offset for e in entries if isinstance(e, StreamEntry) and e.kind == "incident"]


async def metric_lines(hub: RunningHub) -> dict[str, float]:
    """Every sample of /metrics, by name with labels."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{hub.http_url}/metrics")).text
    return {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in text.splitlines() if line[:1] != "#")
    }


def bad_count(metrics: dict[str, float], source: str) -> float:
    return metrics.get(f'vigie_bad_records_total{{source="{source}",tenant="narbonne"}}', 0)


class Health:
    """/healthz polled all along: every answer is kept."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with httpx.AsyncClient() as http:
            while True:
                reply = await http.get(f"{self.hub.http_url}/healthz", timeout=5)
                self.answers.append((reply.status_code, reply.json()))
                await asyncio.sleep(0.2)

    def __enter__(self) -> Health:
        self._task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.mark.slow
async def test_bad_records_are_logged_counted_and_skipped_and_every_good_incident_arrives(
    hub_factory: HubFactory, config: Config, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vigie")
    cell = h3.latlng_to_cell(*CENTRE, config.hub.h3_resolution)
    await corrupt_at_rest(redis, cell)
    async with hub_factory(no_alert_limit(config)) as hub:
        with Health(hub) as health:
            live = Follower(hub.ws_url, "console", "op-live")
            unit = Follower(hub.ws_url, "unit", "u-raw", "msgpack")
            await live.connect()
            await unit.connect()
            assert (await unit.request({"type": "cover", "cells": [SECTOR]}))["type"] == "ok"
            start = (await redis.xrevrange(KEYS.events, count=1))[0][0].decode()

            tally = Tally("bad data in Redis")
            citizen, _ = await connect(hub.ws_url, "citizen", "c1")
            bad_ids = []
            for n in range(ALERTS):
                if n % (ALERTS // len(BAD_ENTRIES)) == 1:  # a bad entry among the good ones
                    entry = BAD_ENTRIES[len(bad_ids)]
                    bad_ids.append((await redis.xadd(KEYS.events, entry)).decode())  # type: ignore[arg-type]
                lat, lon = CENTRE if n % 4 == 0 else near(n)  # the centre: bad candidates
                tally.sent += 1
                message = {"type": "alert.submit", "ref": f"r{n}", "category": "noise"}
                ack = await citizen.request({**message, "lat": lat, "lon": lon})
                assert ack["type"] == "alert.ack", ack
                tally.acked += 1
            await citizen.close()
            assert len(bad_ids) == len(BAD_ENTRIES)

            expected = await good_incident_offsets(redis, start)
            assert len(expected) == ALERTS  # one incident event per alert, none lost
            last = max(offset_key(o) for o in expected)
            await eventually(
                lambda: min(live.ledgers["events"].last, unit.ledgers["events"].last) >= last
            )

            # A real assignment still expires beside the orphan deadlines.
            first = (await redis.zrevrange(KEYS.open_queue, 0, 0))[0].decode()
            assign = {"type": "dispatch.assign", "incident": first, "unit": "u-raw"}
            offered = await live.request({**assign, "timeout_s": 5})
            assert offered["type"] == "ok", offered
            asg = KEYS.assignment(offered["assignment"])
            await eventually(lambda: live.types["assignment.state"] >= 2, 10)  # offered, expired
            assert await redis.hget(asg, "state") == b"expired"

            # A console resuming from before the traffic replays across the bad entries,
            replay, _ = await connect(hub.ws_url, "console", "op-replay", resume={"events": start})
            replayed = Ledger()
            while replayed.last < last:
                message = await replay.recv()
                if message["type"] == "incident":
                    replayed.offer(message)
            # and one from a snapshot sees every live incident but the bad ones.
            fresh, _ = await connect(hub.ws_url, "console", "op-fresh")
            snapshot = await fresh.expect("snapshot")
            shown = {i["id"] for i in snapshot["incidents"]}
            live_ids = {m.decode() for m in await redis.zrange(KEYS.live, 0, -1)}
            assert shown == live_ids - set(BAD_INCIDENTS), (shown, live_ids)
            assert not {u["id"] for u in snapshot["units"]} & {"u-type", "u-ghost"}

            # The unit whose saved state is garbage can still come online (that event,
            # with its saved garbage cell, is skipped too) and be placed and covered.
            mended, _ = await connect(hub.ws_url, "unit", "u-garbage")
            at = {"lat": CENTRE[0], "lon": CENTRE[1], "at": int(time.time() * 1000)}
            await mended.send({"type": "unit.position", **at})
            covered = await mended.request({"type": "cover", "ref": "cv", "cells": [SECTOR]})
            assert covered["type"] == "ok", covered
            assert hub.node.tenants["narbonne"].board["u-garbage"].sector == (SECTOR,)
            await mended.close()

            # A console acting on a corrupt incident is told it does not exist, and
            # nothing of it changes (no half-done script).
            for incident in BAD_INCIDENTS:
                update = {"type": "incident.update", "incident": incident}
                refused = await live.request({**update, "status": "acknowledged"})
                assert refused["type"] == "error" and refused["code"] == "not_found", refused
            assert await redis.hget(KEYS.incident("bad-num"), "status") == b"open"

            await redis.delete(KEYS.job_lock("aging"))  # age now, not in 30 s
            assert await timers.age_queue(hub.node, hub.node.tenants["narbonne"])
            async with httpx.AsyncClient() as http:
                api = await http.get(
                    f"{hub.http_url}/api/v1/incidents/bad-type",
                    headers={"authorization": f"Bearer {token('console', 'op-api')}"},
                )
                await redis.rpush(KEYS.history(first), b"{a garbage audit entry")
                trail = await http.get(
                    f"{hub.http_url}/api/v1/incidents/{first}",
                    headers={"authorization": f"Bearer {token('console', 'op-api')}"},
                )
            assert api.status_code == 404  # unusable reads as absent, never a 500
            assert trail.status_code == 200 and trail.json()["history"], trail.text
            metrics = await metric_lines(hub)
            for peer in (replay, fresh):
                await peer.close()
            await live.close()
            await unit.close()
        answers = health.answers
    remaining = {d.decode() for d in await redis.zrange(KEYS.deadlines, 0, -1)}

    tally.add_client(live.ledgers["events"], expected)
    tally.add_client(unit.ledgers["events"], expected)
    tally.add_client(replayed, expected)
    text = caplog.text
    skipped = {
        s: bad_count(metrics, s) for s in ("events", "incident", "unit", "deadline", "inbox")
    }
    tally.check(bad_records=skipped, healthz_answers=len(answers))

    assert tally.acked == tally.sent == ALERTS
    assert tally.delivered == 3 * ALERTS
    assert answers and all(code == 200 for code, _ in answers), answers
    assert all(body["streams"] and body["loops"] for _, body in answers)
    # Counted: the live follower and the replay each skip every bad entry.
    assert skipped["events"] == 2 * len(BAD_ENTRIES) + 1  # and u-garbage's online event
    assert skipped["incident"] >= 2 * len(BAD_INCIDENTS)  # aging twice, the snapshot once
    assert skipped["unit"] == len(BAD_UNITS) + 1  # the board read at start, u-garbage's hello
    assert skipped["deadline"] == len(BAD_DEADLINES) and not remaining & set(BAD_DEADLINES)
    assert skipped["inbox"] == 1
    assert not [k for k, v in metrics.items() if k.startswith("vigie_loop_errors_total") and v]
    assert "u-ghost" not in hub.node.tenants["narbonne"].board  # the board stays sane
    # Logged, each with its entry id or key.
    keys = [*(KEYS.incident(i) for i in BAD_INCIDENTS), *(KEYS.unit(u) for u in BAD_UNITS)]
    for name in [*bad_ids, *keys, *BAD_DEADLINES]:
        assert re.search(rf"bad \w+ record {re.escape(name)} ", text), name
