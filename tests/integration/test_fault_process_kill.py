"""Fault: one of two hub processes behind one port is killed with SIGKILL (issue item 4).

A real `vigie serve --workers 2`. Units, consoles and citizens (the client
library) spread over both workers; one worker is killed mid-traffic. Its clients
reconnect (to the survivor or to the worker uvicorn respawns) and resume; citizens
re-send unanswered alerts with the same `ref`; an assignment offered just before
the kill, whose deadline falls after it, still expires exactly once (deadlines
live in Redis and every process polls them).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import h3
import pytest
from redis.asyncio import Redis

from clients import Backoff, Citizen, Console, Overflow, Unit
from hub.config import Config
from hub.core.offsets import offset_key
from hub.server import timers
from hub.server.handlers import now_ms
from hub.server.runner import running_hub
from tests.integration.fault_tools import (
    CENTRE,
    KEYS,
    Counted,
    Tally,
    eventually,
    incident_offsets,
    near,
    scan_keys,
    serve,
    stream_entries,
)
from tests.wire import SECRET, token

pytestmark = pytest.mark.slow

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
UNITS = 6
CONSOLES = 3
CITIZENS = 4
ALERTS_EACH = 12
QUICK = Backoff(base_s=0.05, cap_s=0.5)
DEADLINE_S = 5  # the protocol's smallest timeout_s


async def _node_of(redis: Redis, unit: str) -> int:
    node = (await redis.hget(KEYS.unit(unit), "node") or b"").decode()
    return int(node.rsplit(":", 1)[1])


async def test_kill_9_of_one_worker_loses_nothing_and_its_timer_still_fires(
    tmp_path: Path, redis_url: str, redis: Redis
) -> None:
    async with serve(tmp_path, redis_url, workers=2) as hub:
        workers = hub.workers()
        assert len(workers) == 2, workers
        fast = {"backoff": QUICK, "overflow": Overflow.DROP_OLDEST}
        units = [Counted(Unit(hub.ws_url, token("unit", f"u{i}"), **fast)) for i in range(UNITS)]
        consoles = [
            Counted(Console(hub.ws_url, token("console", f"op{i}"), **fast))
            for i in range(CONSOLES)
        ]
        citizens = [
            Citizen(hub.ws_url, token("citizen", f"c{i}"), backoff=QUICK) for i in range(CITIZENS)
        ]
        # Connections opened together land on both workers (the kernel hands each
        # accept to whichever process is waiting); open more units until both have some.
        await asyncio.gather(
            *(c.conn.start() for c in [*units, *consoles]), *(c.start() for c in citizens)
        )
        # On a loaded machine one worker may win every accept of a sequence, so the
        # extras come in concurrent batches (bounded: 6 batches of 6).
        placement: dict[str, int] = {}
        for _ in range(7):
            for i, unit in enumerate(units):
                if f"u{i}" not in placement:
                    await unit.conn.cover([SECTOR])
                    placement[f"u{i}"] = await _node_of(redis, f"u{i}")
            if len(set(placement.values())) == 2:
                break
            extras = [
                Counted(Unit(hub.ws_url, token("unit", f"u{len(units) + k}"), **fast))
                for k in range(6)
            ]
            await asyncio.gather(*(e.conn.start() for e in extras))
            units.extend(extras)
        spread = Counter(placement.values())
        assert len(spread) == 2, f"every unit landed on one worker: {placement}"
        victim = spread.most_common(1)[0][0]
        assert victim in workers
        doomed_unit = next(u for u, pid in placement.items() if pid == victim)

        # An incident, assigned to a unit of the victim; its deadline falls after the kill.
        first = await citizens[0].submit_alert("violence", *CENTRE, ref="first")
        offer = await consoles[0].conn.assign(first["incident"], doomed_unit, timeout_s=DEADLINE_S)
        assignment = offer["assignment"]

        tally = Tally("process kill")
        tally.sent = tally.acked = 1
        acks = [first]
        killed = asyncio.Event()
        killed_at: list[float] = []

        async def report(n: int, citizen: Citizen) -> None:
            for i in range(ALERTS_EACH):
                if i == ALERTS_EACH // 3 and n == 0:
                    os.kill(victim, signal.SIGKILL)  # mid-traffic
                    killed_at.append(time.monotonic())
                    killed.set()
                tally.sent += 1
                ack = await citizen.submit_alert(
                    "noise", *near(n * ALERTS_EACH + i), ref=f"c{n}-{i}", timeout=20
                )
                tally.acked += 1
                acks.append(ack)
                await asyncio.sleep(0.05)

        await asyncio.gather(*(report(n, c) for n, c in enumerate(citizens)))
        assert killed.is_set()
        # uvicorn's supervisor replaces the dead worker.
        await eventually(lambda: len(set(hub.workers()) - {victim}) == 2, 15)
        respawned_after = time.monotonic() - killed_at[0]
        everyone_back_after = max(
            c.welcomed_at[-1] - killed_at[0] for c in [*units, *consoles] if c.conn.close_codes
        )
        await eventually(lambda: all(u.conn.connected for u in units), 10)
        moved_to: Counter[str] = Counter()
        for u, pid in placement.items():
            if pid == victim:
                moved_to["survivor" if await _node_of(redis, u) in workers else "respawned"] += 1

        # The deadline passes: exactly one process expires the assignment.
        expires_at = int(offer["expires_at"])
        await asyncio.sleep(max(0.0, expires_at / 1000 - time.time()) + 1.0)
        states = [
            e
            for e in await stream_entries(redis)
            if e.kind == "assignment.state" and e.to is None and e.body["assignment"] == assignment
        ]
        inbox = [
            e
            for e in await stream_entries(redis, KEYS.inbox("unit", doomed_unit))
            if e.body.get("assignment") == assignment
        ]
        history = [
            h
            for h in await redis.lrange(KEYS.history(first["incident"]), 0, -1)
            if b"assignment.expired" in h
        ]
        assert [e.body["state"] for e in states] == ["offered", "expired"], states
        assert len(history) == 1

        expected = await incident_offsets(redis)
        last = max(offset_key(o) for o in expected)
        everyone = [*units, *consoles]
        await eventually(lambda: all(c.ledgers["events"].last >= last for c in everyone), 15)
        doomed = units[int(doomed_unit[1:])]
        await eventually(lambda: len(doomed.of_type("assignment.state", state="expired")) == 1)
        for console in consoles:
            await eventually(
                lambda c=console: len(c.of_type("assignment.state", state="expired")) == 1
            )
        await asyncio.sleep(0.3)  # room for a late duplicate
        for client in everyone:
            tally.add_client(client.ledgers["events"], expected)
        tally.add_client(doomed.ledgers["inbox"], [e.offset for e in inbox])
        moved = [
            c
            for c in [*everyone, *citizens]
            if (c.conn if isinstance(c, Counted) else c).close_codes
        ]
        untouched = all(
            not units[int(u[1:])].conn.close_codes for u, pid in placement.items() if pid != victim
        )
        library_dupes = sum(c.conn.duplicates for c in everyone)
        alerts = {a["alert"] for a in acks}
        stored = {k.rsplit(":", 1)[1] for k in await scan_keys(redis, KEYS.alert("*"))}
        for client in everyone:
            await client.conn.close()
        for citizen in citizens:
            await citizen.close()
        log = hub.log_text()

    assert len(alerts) == tally.acked == tally.sent  # one alert per ref, each acked once
    assert stored == alerts  # every acked alert is in Redis, and no other one
    # Everyone on the victim lost its connection without a close frame and came back.
    assert moved and all(
        (c.conn if isinstance(c, Counted) else c).close_codes[0] == 1006 for c in moved
    )
    assert untouched  # the survivor's own clients never noticed
    assert log.count("EVERY ABUSE LIMIT IS OFF") == 3  # two workers, then the respawned one
    tally.check(
        units_on_killed_worker=f"{spread[victim]} of {len(units)}",
        they_came_back_on=dict(moved_to),
        clients_that_reconnected=len(moved),
        resumed_within_s=round(everyone_back_after, 2),
        respawned_within_s=round(respawned_after, 2),
        assignment="expired once",
        duplicates_dropped_by_offset=library_dupes,
    )


async def test_units_left_online_by_a_killed_process_are_swept_offline(
    tmp_path: Path, redis_url: str, redis: Redis, config: Config
) -> None:
    """A process killed with SIGKILL never takes its units' sessions back; a live
    process marks them offline once nobody has seen them for PRESENCE_STALE_MS
    (the clock is advanced here rather than waited for), and only them."""
    async with serve(tmp_path, redis_url) as doomed:
        gone = Counted(Unit(doomed.ws_url, token("unit", "u-gone"), backoff=QUICK))
        await gone.conn.start()
        os.kill(doomed.pid, signal.SIGKILL)  # the unit never comes back either
        await asyncio.to_thread(doomed.process.wait, 10)
        await gone.conn.close()
    assert int(await redis.hget(KEYS.unit("u-gone"), "sessions") or 0) == 1  # stale
    async with running_hub(config, redis_url, SECRET) as successor:
        alive = Counted(Unit(successor.ws_url, token("unit", "u-alive")))
        await alive.conn.start()
        rt = successor.node.tenants["narbonne"]
        later = now_ms() + timers.PRESENCE_STALE_MS + 1000
        await successor.node.dispatch.touch_units(rt.keys, {"u-alive"}, later - 1000)
        await redis.delete(KEYS.job_lock("presence"))  # its own loop may hold this period
        swept = await timers.sweep_presence(successor.node, rt, now=later)
        console = Counted(Console(successor.ws_url, token("console", "op1")))
        await console.conn.start()  # its snapshot carries the unit board
        await console.conn.close()
        await alive.conn.close()
    sessions = int(await redis.hget(KEYS.unit("u-gone"), "sessions") or 0)
    board = {u["id"]: u["online"] for u in console.of_type("snapshot")[0]["units"]}
    assert swept == ["u-gone"] and sessions == 0
    assert board == {"u-gone": False, "u-alive": True}
    print(f"\n[presence after kill -9] swept {swept}; board {board}")
