"""The dispatch lifecycle end to end: reports → acknowledge → assign → accept →
on scene → resolved, with what every party sees checked."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import h3
import pytest
from redis.asyncio import Redis

from hub.server.runner import RunningHub
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
NEAR = (43.1843, 3.0047)  # same or neighbouring res-9 cell


def status_is(status: str) -> Any:
    return lambda m: m["incident"]["status"] == status


async def _unit_covering(hub: RunningHub, sub: str, point: tuple[float, float] = CENTRE) -> Peer:
    unit, _ = await connect(hub.ws_url, "unit", sub)
    await unit.expect("snapshot")
    cell = h3.latlng_to_cell(*point, 7)
    assert (await unit.request({"type": "cover", "ref": "cv", "cells": [cell]}))["type"] == "ok"
    pos = {"type": "unit.position", "ref": "p", "lat": point[0], "lon": point[1]}
    assert (await unit.request(pos))["type"] == "ok"
    return unit


async def _report(citizen: Peer, ref: str, category: str = "violence", at=CENTRE) -> dict[str, Any]:
    ack = await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": category, "lat": at[0], "lon": at[1]}
    )
    assert ack["type"] == "alert.ack", ack
    return ack


async def test_whole_life_of_an_incident(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")

    a1 = await _report(alice, "a1")
    b1 = await _report(bob, "b1", at=NEAR)
    assert a1["incident"] == b1["incident"]
    incident = a1["incident"]
    seen = await console.expect("incident")
    assert seen["incident"]["id"] == incident
    rec = await console.expect("recommendation", incident=incident)
    assert rec["units"][0]["unit"] == "u1" and "covering" in rec["units"][0]["reason"]

    ok = await console.request(
        {
            "type": "incident.update",
            "ref": "ack",
            "incident": incident,
            "status": "acknowledged",
            "note": "seen on camera 4",
        }
    )
    assert ok["type"] == "ok"
    for citizen, alert in ((alice, a1["alert"]), (bob, b1["alert"])):
        status = await citizen.expect("alert.status", alert=alert)
        assert status["status"] == "acknowledged" and status["stream"] == "inbox"
        assert "camera" not in status.get("note", "")  # operators' notes stay in the audit trail

    assigned = await console.request(
        {
            "type": "dispatch.assign",
            "ref": "as",
            "incident": incident,
            "unit": "u1",
            "timeout_s": 30,
        }
    )
    assert assigned["type"] == "ok" and assigned["assignment"]
    offer = await unit.expect("assignment")
    assert offer["incident"]["id"] == incident and offer["stream"] == "inbox"
    await console.expect("assignment.state", state="offered")

    assert (
        await unit.request(
            {"type": "assignment.accept", "ref": "acc", "assignment": offer["assignment"]}
        )
    )["type"] == "ok"
    await console.expect("assignment.state", state="accepted")
    board = await console.expect("unit", change="status")
    assert board["unit"]["status"] == "en_route"
    dispatched = await console.expect("incident", where=status_is("dispatched"))
    assert dispatched["incident"]["unit"] == "u1"
    assert (await alice.expect("alert.status", status="dispatched"))["alert"] == a1["alert"]

    assert (
        await unit.request(
            {
                "type": "incident.status",
                "ref": "os",
                "incident": incident,
                "status": "on_scene",
                "note": "2 people",
            }
        )
    )["type"] == "ok"
    await bob.expect("alert.status", status="on_scene")
    assert (
        await unit.request(
            {
                "type": "incident.status",
                "ref": "rs",
                "incident": incident,
                "status": "resolved",
                "note": "calmed down",
            }
        )
    )["type"] == "ok"
    done = await alice.expect("alert.status", status="resolved")
    assert "unit" not in done and "u1" not in str(done)  # never an officer's identity
    await bob.expect("alert.status", status="resolved")
    await console.expect("unit", change="status")  # back to available

    history = await console.request({"type": "incident.history", "ref": "h", "incident": incident})
    actions = [e["action"] for e in history["entries"]]
    assert actions == [
        "acknowledge",
        "assignment.offered",
        "assignment.accepted",
        "dispatch",
        "on_scene",
        "resolve",
    ]
    assert history["entries"][0]["by"] == "op1" and history["entries"][0]["note"]
    for peer in (console, unit, alice, bob):
        await peer.close()


async def test_decline_returns_to_queue_and_recommends_next(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    u1 = await _unit_covering(hub, "u1")
    u2 = await _unit_covering(hub, "u2", NEAR)
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    incident = (await _report(citizen, "r", "burglary"))["incident"]
    await console.expect("recommendation", incident=incident)
    assigned = await console.request(
        {"type": "dispatch.assign", "ref": "as", "incident": incident, "unit": "u1"}
    )
    offer = await u1.expect("assignment")
    assert (
        await u1.request(
            {
                "type": "assignment.decline",
                "ref": "d",
                "assignment": offer["assignment"],
                "reason": "busy",
            }
        )
    )["type"] == "ok"
    state = await console.expect("assignment.state", state="declined")
    assert state["assignment"] == assigned["assignment"] and state["reason"] == "busy"
    rec = await console.expect("recommendation", incident=incident)
    assert [u["unit"] for u in rec["units"]] == ["u2"]
    snapshot_check, _ = await connect(hub.ws_url, "console", "op2")
    snap = await snapshot_check.expect("snapshot")
    assert snap["incidents"][0]["id"] == incident and snap["incidents"][0]["status"] == "open"
    for peer in (console, u1, u2, citizen, snapshot_check):
        await peer.close()


async def test_deadline_expires_exactly_once_with_two_processes(
    hub_factory: Any, redis: Redis
) -> None:
    async with hub_factory() as a, hub_factory() as b:
        console, _ = await connect(a.ws_url, "console", "op1")
        await console.expect("snapshot")
        unit = await _unit_covering(b, "u1")
        citizen, _ = await connect(a.ws_url, "citizen", "c1")
        incident = (await _report(citizen, "r", "noise"))["incident"]
        assigned = await console.request(
            {
                "type": "dispatch.assign",
                "ref": "as",
                "incident": incident,
                "unit": "u1",
                "timeout_s": 5,
            }
        )
        await unit.expect("assignment")
        # Pull the deadline forward instead of waiting 5 s.
        await redis.zadd("vg:{narbonne}:deadlines", {assigned["assignment"]: 1})
        expired = await console.expect("assignment.state", state="expired")
        assert expired["assignment"] == assigned["assignment"]
        told = await unit.expect("assignment.state", state="expired")
        assert told["assignment"] == assigned["assignment"]
        later = await console.collect(1.0)  # no second expiry from the other process
        assert not [m for m in later if m["type"] == "assignment.state"]
        history = await redis.lrange(f"vg:{{narbonne}}:inc:{incident}:history", 0, -1)
        assert sum(b"assignment.expired" in h for h in history) == 1
        late = await unit.request(
            {"type": "assignment.accept", "ref": "late", "assignment": assigned["assignment"]}
        )
        assert late["type"] == "error" and late["code"] == "conflict"
        for peer in (console, unit, citizen):
            await peer.close()


async def test_an_offer_ends_at_its_deadline_not_at_the_next_poll(
    hub: RunningHub, redis: Redis
) -> None:
    # The deadline loop sleeps until the next deadline (at most a second): one
    # set 1.5 s ahead, between two of its reads, still ends on time.
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    incident = (await _report(citizen, "r", "noise"))["incident"]
    assign = {"type": "dispatch.assign", "ref": "as", "incident": incident, "unit": "u1"}
    assigned = await console.request({**assign, "timeout_s": 60})
    await unit.expect("assignment")
    loop = asyncio.get_running_loop()
    set_at = loop.time()
    await redis.zadd("vg:{narbonne}:deadlines", {assigned["assignment"]: time.time() * 1000 + 1500})
    expired = await console.expect("assignment.state", state="expired")
    waited = loop.time() - set_at
    assert expired["assignment"] == assigned["assignment"]
    assert 1.3 <= waited <= 2.3, waited  # on time (a loaded machine adds some)
    for peer in (console, unit, citizen):
        await peer.close()


async def test_offline_unit_and_citizen_get_their_messages_on_reconnect(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit = await _unit_covering(hub, "u1")
    await unit.close()
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "r", "theft")
    await citizen.close()
    await console.request(
        {
            "type": "incident.update",
            "ref": "a",
            "incident": ack["incident"],
            "status": "acknowledged",
        }
    )
    assigned = await console.request(
        {"type": "dispatch.assign", "ref": "as", "incident": ack["incident"], "unit": "u1"}
    )
    assert assigned["type"] == "ok"

    unit, _ = await connect(hub.ws_url, "unit", "u1")
    offer = await unit.expect("assignment")
    assert offer["assignment"] == assigned["assignment"]
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    status = await citizen.expect("alert.status")
    assert status["status"] == "acknowledged" and status["alert"] == ack["alert"]
    # Resuming from that offset replays nothing more.
    await citizen.close()
    again, _ = await connect(hub.ws_url, "citizen", "c1", resume={"inbox": status["offset"]})
    await again.nothing(0.5)
    for peer in (console, unit, again):
        await peer.close()


async def test_merge_moves_reporters_and_tells_them(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    a = await _report(alice, "a", "vandalism")
    b = await _report(bob, "b", "incivility")  # another category: another incident
    assert a["incident"] != b["incident"]
    ok = await console.request(
        {"type": "incident.merge", "ref": "m", "into": a["incident"], "from": [b["incident"]]}
    )
    assert ok["type"] == "ok"
    assert (await bob.expect("alert.status"))["status"] == "merged"
    await console.request(
        {"type": "incident.update", "ref": "c", "incident": a["incident"], "status": "closed"}
    )
    assert (await bob.expect("alert.status"))["status"] == "resolved"
    assert (await alice.expect("alert.status"))["status"] == "resolved"
    bad = await console.request(
        {"type": "incident.merge", "ref": "m2", "into": a["incident"], "from": [a["incident"]]}
    )
    assert bad["code"] == "bad_request"
    for peer in (console, alice, bob):
        await peer.close()


async def test_cancel_by_only_reporter_closes_incident(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    mallory, _ = await connect(hub.ws_url, "citizen", "mallory")
    ack = await _report(alice, "a", "noise")
    stolen = await mallory.request({"type": "alert.cancel", "ref": "x", "alert": ack["alert"]})
    assert stolen["code"] == "not_found"  # another citizen's alert is not revealed
    ok = await alice.request({"type": "alert.cancel", "ref": "c", "alert": ack["alert"]})
    assert ok["type"] == "ok"
    assert (await alice.expect("alert.status"))["status"] == "cancelled"
    await console.expect("incident", where=status_is("closed"))
    for peer in (console, alice, mallory):
        await peer.close()


async def test_notice_reaches_followers_and_last_reporters_only(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    near, _ = await connect(hub.ws_url, "citizen", "near")
    far, _ = await connect(hub.ws_url, "citizen", "far")
    reporter, _ = await connect(hub.ws_url, "citizen", "rep")
    district = h3.latlng_to_cell(*CENTRE, 8)
    await near.request(
        {"type": "citizen.follow", "ref": "f", "cells": [h3.latlng_to_cell(*CENTRE, 9)]}
    )
    await far.request(
        {"type": "citizen.follow", "ref": "f", "cells": [h3.latlng_to_cell(43.16, 3.16, 9)]}
    )
    await _report(reporter, "r", "fire")
    ok = await console.request(
        {
            "type": "notice",
            "ref": "n",
            "cells": [district],
            "text": "Rue fermée",
            "severity": "warning",
        }
    )
    assert ok["type"] == "ok"
    assert (await near.expect("notice"))["text"] == "Rue fermée"
    assert (await reporter.expect("notice"))["severity"] == "warning"
    await far.nothing(0.5)
    for peer in (console, near, far, reporter):
        await peer.close()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "dispatch.assign", "incident": "in999", "unit": "u1"}, "not_found"),
        ({"type": "incident.update", "incident": "in999", "status": "closed"}, "not_found"),
        ({"type": "incident.update", "incident": "in1", "status": "open"}, "bad_request"),
        ({"type": "incident.update", "incident": "in1", "priority": 9}, "bad_request"),
        ({"type": "incident.merge", "into": "in1", "from": []}, "bad_request"),
        ({"type": "notice", "cells": ["8928308280fffff"], "text": "x"}, "out_of_area"),
        ({"type": "notice", "cells": ["nope"], "text": "x"}, "bad_request"),
        ({"type": "incident.history", "incident": "in999"}, "not_found"),
        ({"type": "incident.recommend", "incident": "in999"}, "not_found"),
    ],
)
async def test_console_command_errors(hub: RunningHub, message: dict[str, Any], code: str) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    reply = await console.request({**message, "ref": "r"})
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert (await console.request({"type": "incident.history", "ref": "ok", "incident": "in0"}))[
        "code"
    ] == "not_found"  # the session survives
    await console.close()


@pytest.mark.parametrize(
    "msg_type",
    [
        "dispatch.assign",
        "incident.update",
        "incident.merge",
        "notice",
        "incident.recommend",
        "incident.history",
    ],
)
async def test_console_commands_are_forbidden_to_others(hub: RunningHub, msg_type: str) -> None:
    for role in ("citizen", "unit"):
        peer, _ = await connect(hub.ws_url, role, "x")
        reply = await peer.request({"type": msg_type, "ref": "r", "incident": "in1"})
        assert reply["code"] == "forbidden"
        await peer.close()


async def test_console_of_another_town_sees_none_of_it(hub_factory: Any, config: Any) -> None:
    from dataclasses import replace

    narbonne = config.tenants["narbonne"]
    beziers = replace(
        narbonne,
        id="beziers",
        name="Béziers",
        area=((43.37, 3.17), (43.37, 3.26), (43.31, 3.26), (43.31, 3.17)),
    )
    cfg = replace(config, tenants={"narbonne": narbonne, "beziers": beziers})
    async with hub_factory(cfg) as hub:
        other, _ = await connect(hub.ws_url, "console", "op-b", tenant="beziers")
        await other.expect("snapshot")
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        citizen, _ = await connect(hub.ws_url, "citizen", "c1")
        ack = await _report(citizen, "r")
        await console.expect("incident")
        await console.request(
            {
                "type": "incident.update",
                "ref": "a",
                "incident": ack["incident"],
                "status": "acknowledged",
            }
        )
        reply = await other.request(
            {"type": "incident.update", "ref": "x", "incident": ack["incident"], "status": "closed"}
        )
        assert reply["code"] == "not_found"
        await other.nothing(0.5)
        for peer in (other, console, citizen):
            await peer.close()
