"""Edges found in review: withdrawals and merges never silently stand a patrol
down, snapshots show interventions in progress, offers an operator made are not
replaced, keys cannot collide, resumes from impossible offsets start over."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import h3
from redis.asyncio import Redis

from hub.server.recommending import recommend_and_dispatch
from hub.server.runner import RunningHub
from tests.integration.test_lifecycle import CENTRE, _report, _unit_covering, status_is
from tests.wire import Peer, connect


async def _dispatched(hub: RunningHub, console: Peer, unit: Peer, incident: str) -> None:
    await console.request({"type": "dispatch.assign", "ref": "as", "incident": incident,
                           "unit": "u1"})  # fmt: skip
    offer = await unit.expect("assignment")
    reply = await unit.request({"type": "assignment.accept", "ref": "acc",
                                "assignment": offer["assignment"]})  # fmt: skip
    assert reply["type"] == "ok"


async def test_withdrawing_does_not_stand_a_dispatched_patrol_down(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    ack = await _report(alice, "a", "noise")
    await _dispatched(hub, console, unit, ack["incident"])
    ok = await alice.request({"type": "alert.cancel", "ref": "c", "alert": ack["alert"]})
    assert ok["type"] == "ok"
    assert (await alice.expect("alert.status", status="cancelled"))["alert"] == ack["alert"]
    after = await console.expect("incident", where=lambda m: m["incident"]["reports"] == 0)
    assert after["incident"]["status"] == "dispatched"  # still the operator's to close
    resolved = await unit.request({"type": "incident.status", "ref": "r",
                                   "incident": ack["incident"], "status": "resolved"})  # fmt: skip
    assert resolved["type"] == "ok"
    for peer in (console, unit, alice):
        await peer.close()


async def test_merging_a_dispatched_incident_releases_its_unit(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    first = await _report(citizen, "a", "vandalism")
    second = await _report(citizen, "b", "incivility")
    await _dispatched(hub, console, unit, second["incident"])
    merged = await console.request(
        {
            "type": "incident.merge",
            "ref": "m",
            "into": first["incident"],
            "from": [second["incident"]],
        }
    )
    assert merged["type"] == "ok"
    told = await unit.expect("assignment.state", state="cancelled")
    assert told["incident"] == second["incident"]
    await console.expect("assignment.state", state="cancelled")
    board = await console.expect("unit", where=lambda m: m["unit"]["status"] == "available")
    assert board["unit"]["id"] == "u1"
    for peer in (console, unit, citizen):
        await peer.close()


async def test_snapshot_lists_interventions_in_progress(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "a", "theft")
    await _dispatched(hub, console, unit, ack["incident"])
    await console.expect("incident", where=status_is("dispatched"))
    late, _ = await connect(hub.ws_url, "console", "op2")
    snapshot = await late.expect("snapshot")
    assert [(i["id"], i["status"]) for i in snapshot["incidents"]] == [
        (ack["incident"], "dispatched")
    ]
    for peer in (console, unit, citizen, late):
        await peer.close()


async def test_a_report_joining_a_dispatched_incident_does_not_requeue_it(
    hub: RunningHub, redis: Redis
) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    ack = await _report(alice, "a", "noise")
    await _dispatched(hub, console, unit, ack["incident"])
    joined = await _report(bob, "b", "noise")
    assert joined["incident"] == ack["incident"]
    assert await redis.zscore("vg:{narbonne}:open", ack["incident"]) is None
    for peer in (console, unit, alice, bob):
        await peer.close()


async def test_auto_recommendation_never_replaces_an_operators_offer(hub: RunningHub) -> None:
    from dataclasses import replace

    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    u1 = await _unit_covering(hub, "u1")
    u2 = await _unit_covering(hub, "u2")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "a", "fire")
    offer = await console.request({"type": "dispatch.assign", "ref": "as",
                                   "incident": ack["incident"], "unit": "u2"})  # fmt: skip
    rt = hub.node.tenants["narbonne"]
    rt.config = replace(rt.config, auto_dispatch=True)  # as if the job raced the operator
    incident: dict[str, Any] = {"id": ack["incident"], "cell": "", "priority": 1}
    incident["cell"] = (await console.expect("incident"))["incident"]["cell"]
    await recommend_and_dispatch(hub.node, rt, incident, int(time.time() * 1000))
    states = [m for m in await console.collect(0.5) if m["type"] == "assignment.state"]
    assert not [m for m in states if m["state"] == "cancelled"], states
    assert (await u2.expect("assignment"))["assignment"] == offer["assignment"]
    for peer in (console, u1, u2, citizen):
        await peer.close()


async def test_idempotency_records_of_different_citizens_never_collide(hub: RunningHub) -> None:
    first, _ = await connect(hub.ws_url, "citizen", "x:y")
    second, _ = await connect(hub.ws_url, "citizen", "x")
    a = await _report(first, "z", "noise")
    b = await _report(second, "y:z", "noise", at=(43.16, 3.16))
    assert a["alert"] != b["alert"]
    for peer in (first, second):
        await peer.close()


async def test_a_resume_offset_from_the_future_starts_over(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1", resume={"events": "99999999999999-0"})
    assert (await console.expect("reset"))["stream"] == "events"
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    await _report(citizen, "a", "noise")
    await console.expect("incident")  # live again, not suppressed as a "duplicate"
    for peer in (console, citizen):
        await peer.close()


async def test_a_reader_behind_a_trim_resyncs_its_sessions(hub: RunningHub, redis: Redis) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    await _report(citizen, "a", "noise", at=CENTRE)
    rt = hub.node.tenants["narbonne"]
    await redis.xtrim("vg:{narbonne}:events", maxlen=0)  # as if trimmed while we were away
    await redis.xadd("vg:{narbonne}:events", {"k": "queue", "d": b"{}"})
    rt.read_offset = "1-0"  # this process last read long before the trim
    await hub.node._resync_if_trimmed(rt)
    await asyncio.wait_for(console.ws.wait_closed(), 5)
    assert console.ws.close_code == 1012
    await citizen.close()


async def test_a_unit_left_online_by_a_killed_process_is_swept_offline(
    hub: RunningHub, redis: Redis
) -> None:
    from hub.server.timers import PRESENCE_STALE_MS, refresh_presence, sweep_presence

    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alive = await _unit_covering(hub, "alive")
    long_ago = int(time.time() * 1000) - 2 * PRESENCE_STALE_MS
    # "ghost" was connected to a process that died with SIGKILL: counted, never released.
    await redis.hset("vg:{narbonne}:unit:ghost", mapping={"id": "ghost", "sessions": 1,
                                                          "status": "available",
                                                          "last_seen": long_ago})  # fmt: skip
    await redis.sadd("vg:{narbonne}:units", "ghost")
    rt = hub.node.tenants["narbonne"]
    hub.node.set_unit_state(rt, "ghost", status="available", online=True)
    await redis.hset("vg:{narbonne}:unit:alive", "last_seen", long_ago)
    await refresh_presence(hub.node, rt)  # "alive" is connected here: seen now
    await redis.delete("vg:{narbonne}:lock:presence")
    assert await sweep_presence(hub.node, rt) == ["ghost"]
    offline = await console.expect("unit", change="offline")
    assert offline["unit"]["id"] == "ghost" and offline["unit"]["online"] is False
    for peer in (console, alive):
        await peer.close()


async def test_presence_marks_this_process_units_seen_and_nobody_else(
    hub: RunningHub, redis: Redis
) -> None:
    from hub.server.timers import refresh_presence

    unit = await _unit_covering(hub, "alive")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    rt = hub.node.tenants["narbonne"]
    assert {s.sub for s in rt.unit_sessions} == {"alive"}
    await redis.hset("vg:{narbonne}:unit:alive", "seen_at", 1)
    await refresh_presence(hub.node, rt)
    assert int(await redis.hget("vg:{narbonne}:unit:alive", "seen_at")) > 1
    for sub in ("c1", "op1"):  # a citizen or an operator is never made a unit record
        assert not await redis.exists(f"vg:{{narbonne}}:unit:{sub}")
    await unit.close()
    for _ in range(100):
        if not rt.unit_sessions:
            break
        await asyncio.sleep(0.02)
    assert not rt.unit_sessions  # gone with its session: the loop no longer touches it
    await redis.hset("vg:{narbonne}:unit:alive", "seen_at", 1)
    await refresh_presence(hub.node, rt)
    assert await redis.hget("vg:{narbonne}:unit:alive", "seen_at") == b"1"
    for peer in (citizen, console):
        await peer.close()


async def test_a_retried_command_acts_once_and_gets_the_same_reply(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "a", "theft")
    assign = {"type": "dispatch.assign", "ref": "same", "incident": ack["incident"], "unit": "u1"}
    first = await console.request(assign)
    again = await console.request(assign)  # e.g. after a timeout or an `unavailable`
    assert first["type"] == "ok" and again == first
    offers = [m for m in await unit.collect(0.5) if m["type"] == "assignment"]
    assert len(offers) == 1  # one offer, not a second one cancelling the first
    accept = {"type": "assignment.accept", "ref": "acc", "assignment": first["assignment"]}
    assert (await unit.request(accept))["type"] == "ok"
    assert (await unit.request(accept))["type"] == "ok"  # not `conflict`: it did succeed
    for peer in (console, unit, citizen):
        await peer.close()


async def test_a_resent_notice_is_delivered_once_and_gets_the_same_reply(
    hub: RunningHub,
) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "resident")
    cell = h3.latlng_to_cell(*CENTRE, 9)
    assert (await citizen.request({"type": "citizen.follow", "ref": "f", "cells": [cell]}))[
        "type"
    ] == "ok"
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    notice = {"type": "notice", "ref": "n1", "cells": [h3.latlng_to_cell(*CENTRE, 8)],
              "text": "Rue fermée", "severity": "warning"}  # fmt: skip
    first = await console.request(notice)
    again = await console.request(notice)  # e.g. after a timeout or an `unavailable`
    assert first["type"] == "ok" and first["notice"] and again == first
    await console.close()
    console, _ = await connect(hub.ws_url, "console", "op1")  # a retry after a lost session
    assert await console.request(notice) == first
    reopened = 'Rue rouverte ✅ "à 18 h"\n\\ </script> \u2028'  # through Lua's cjson unharmed
    other = await console.request({**notice, "ref": "n2", "text": reopened})
    assert other["type"] == "ok" and other["notice"] != first["notice"]
    # The stream is ordered: once n2's notice is in, a second n1 would be in too.
    got = [m for m in await citizen.collect(1.0) if m["type"] == "notice"]
    assert [(m["notice"], m["text"]) for m in got] == [
        (first["notice"], "Rue fermée"),
        (other["notice"], reopened),
    ]
    coarse = [h3.cell_to_parent(notice["cells"][0], 7)]  # residents get notice_resolution
    assert got[0]["severity"] == "warning" and got[0]["cells"] == coarse
    colleague, _ = await connect(hub.ws_url, "console", "op2")  # refs are per sender
    theirs = await colleague.request(notice)
    assert theirs["type"] == "ok" and theirs["notice"] not in (first["notice"], other["notice"])
    assert (await citizen.expect("notice"))["notice"] == theirs["notice"]
    for peer in (console, colleague, citizen):
        await peer.close()
