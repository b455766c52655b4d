"""The conversation between the control room and the reporters, and their feedback:
both ways across two hub processes, with a reconnect in the middle, and the
forbidden, oversized and rate-limited variants."""

from __future__ import annotations

from typing import Any

import h3
import httpx

from hub.server.runner import RunningHub
from tests.conftest import HubFactory
from tests.wire import Peer, connect, token

CENTRE = (43.1839, 3.0042)
NEAR = (43.1843, 3.0047)


async def _report(citizen: Peer, ref: str, at: tuple[float, float] = CENTRE) -> dict[str, Any]:
    ack = await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": "noise", "lat": at[0], "lon": at[1]}
    )
    assert ack["type"] == "alert.ack", ack
    return ack


async def _history(hub: RunningHub, incident: str) -> list[dict[str, Any]]:
    headers = {"authorization": f"Bearer {token('console', 'op1')}"}
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        body = (await http.get(f"/api/v1/incidents/{incident}", headers=headers)).json()
    entries: list[dict[str, Any]] = body["history"]
    return entries


async def test_both_ways_across_two_processes_with_a_reconnect(hub_factory: HubFactory) -> None:
    async with hub_factory() as a, hub_factory() as b:
        console, _ = await connect(a.ws_url, "console", "op-martin")
        await console.expect("snapshot")
        alice, _ = await connect(b.ws_url, "citizen", "alice")
        bob, _ = await connect(b.ws_url, "citizen", "bob")
        a1 = await _report(alice, "a1")
        b1 = await _report(bob, "b1", NEAR)
        incident = a1["incident"]
        assert b1["incident"] == incident
        await bob.close()  # Bob leaves before the question

        ask = {"type": "message.send", "ref": "q1", "incident": incident,
               "text": "Le bruit continue-t-il ?"}  # fmt: skip
        ok = await console.request(ask)
        assert ok["type"] == "ok" and ok["message"].startswith("ms")
        got = await alice.expect("message")
        assert got["from"] == "control_room" and got["alert"] == a1["alert"]
        assert got["text"] == "Le bruit continue-t-il ?" and got["stream"] == "inbox"
        assert "martin" not in str(got) and "op-" not in str(got)  # never the operator's name
        # A retried send (same ref) gets the same answer and sends nothing again.
        assert (await console.request(ask))["message"] == ok["message"]
        await alice.nothing(0.3)

        # Bob comes back on the other process: the question waited in his inbox.
        bob, _ = await connect(a.ws_url, "citizen", "bob")
        waiting = await bob.expect("message")
        assert waiting["message"] == ok["message"] and waiting["alert"] == b1["alert"]

        # Alice answers; her connection drops before the ack, she re-sends the same ref.
        answer = {"type": "message.reply", "ref": "r1", "alert": a1["alert"], "text": "Oui"}
        await alice.send(answer)
        await alice.close()
        alice, _ = await connect(b.ws_url, "citizen", "alice", resume={"inbox": got["offset"]})
        again = await alice.request(answer)
        assert again["type"] == "ok"
        echo = await alice.expect("message", where=lambda m: m["from"] == "reporter")
        assert echo["message"] == again["message"]
        heard = await console.expect("message", where=lambda m: m["from"] == "reporter")
        assert heard == {**heard, "incident": incident, "text": "Oui", "message": again["message"]}
        await console.nothing(0.3)  # once, though sent twice
        await bob.nothing(0.3)  # nothing a resident writes reaches another resident

        trail = [e for e in await _history(a, incident) if e["action"] == "message"]
        assert [(e["from"], e["text"]) for e in trail] == [
            ("control_room", "Le bruit continue-t-il ?"),
            ("reporter", "Oui"),
        ]


async def test_refusals(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    mallory, _ = await connect(hub.ws_url, "citizen", "mallory")
    a1 = await _report(alice, "a1")
    incident = a1["incident"]

    async def code(peer: Peer, message: dict[str, Any]) -> str:
        reply = await peer.request(message)
        return str(reply.get("code", reply["type"]))

    reply = {"type": "message.reply", "ref": "x", "alert": a1["alert"], "text": "hi"}
    assert await code(mallory, reply) == "not_found"  # not her alert: existence not revealed
    assert await code(mallory, {**reply, "type": "message.send", "incident": incident}) == (
        "forbidden"
    )
    assert await code(alice, {**reply, "ref": "big", "text": "x" * 1001}) == "too_large"
    assert await code(alice, {**reply, "ref": "blank", "text": "  "}) == "bad_request"
    await alice.send({k: v for k, v in reply.items() if k != "ref"})
    assert (await alice.expect("error"))["code"] == "bad_request"  # a ref is required
    send = {"type": "message.send", "ref": "s", "incident": incident, "text": "?"}
    assert await code(console, {**send, "incident": "in999"}) == "not_found"
    assert await code(console, {**send, "ref": "s2", "alert": "al999"}) == "not_found"
    for i in range(10):
        assert await code(alice, {**reply, "ref": f"r{i}"}) == "ok"
    limited = await alice.request({**reply, "ref": "r10"})
    assert limited["code"] == "rate_limited" and 0 < limited["retry_after_s"] <= 600
    close = {"type": "incident.update", "ref": "c", "incident": incident, "status": "closed"}
    assert (await console.request(close))["type"] == "ok"
    assert await code(console, {**send, "ref": "late"}) == "conflict"  # not live any more


async def test_feedback_once_after_the_end(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    mallory, _ = await connect(hub.ws_url, "citizen", "mallory")
    a1 = await _report(alice, "a1")
    rate = {"type": "alert.feedback", "ref": "f1", "alert": a1["alert"], "score": 4,
            "comment": "Rapide, merci"}  # fmt: skip
    assert (await alice.request(rate))["code"] == "conflict"  # not ended yet
    close = {"type": "incident.update", "ref": "c", "incident": a1["incident"], "status": "closed"}
    assert (await console.request(close))["type"] == "ok"
    await alice.expect("alert.status", status="resolved")
    assert (await mallory.request({**rate, "ref": "m"}))["code"] == "not_found"
    assert (await alice.request({**rate, "ref": "f0", "score": 6}))["code"] == "bad_request"
    assert (await alice.request({**rate, "ref": "f0", "score": 2.5}))["code"] == "bad_request"
    assert (await alice.request(rate))["type"] == "ok"
    assert (await alice.request(rate))["type"] == "ok"  # the same ref: the same answer
    assert (await alice.request({**rate, "ref": "f2", "score": 1}))["code"] == "conflict"
    seen = await console.expect("feedback")
    assert seen == {**seen, "alert": a1["alert"], "score": 4, "comment": "Rapide, merci"}
    await console.nothing(0.3)
    trail = [e for e in await _history(hub, a1["incident"]) if e["action"] == "feedback"]
    assert len(trail) == 1 and trail[0]["score"] == 4
    headers = {"authorization": f"Bearer {token('console', 'op1')}"}
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        stats = (await http.get("/api/v1/stats", headers=headers)).json()
    assert stats["feedback"]["count"] == 1 and stats["feedback"]["mean"] == 4.0


async def test_erasure_keeps_the_aggregates_and_removes_what_the_resident_wrote(
    hub: RunningHub,
) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    cell = h3.latlng_to_cell(*CENTRE, 7)
    assert (await alice.request({"type": "neighbours.follow", "ref": "nb", "cells": [cell]}))[
        "type"
    ] == "neighbours"
    a1 = await _report(alice, "a1")
    ask = {"type": "message.send", "ref": "q", "incident": a1["incident"], "text": "Encore ?"}
    assert (await console.request(ask))["type"] == "ok"
    reply = {"type": "message.reply", "ref": "r", "alert": a1["alert"], "text": "Oui, au 12"}
    assert (await alice.request(reply))["type"] == "ok"
    close = {"type": "incident.update", "ref": "c", "incident": a1["incident"], "status": "closed"}
    assert (await console.request(close))["type"] == "ok"
    rate = {"type": "alert.feedback", "ref": "f", "alert": a1["alert"], "score": 2,
            "comment": "Trop lent, voisin du 12"}  # fmt: skip
    assert (await alice.request(rate))["type"] == "ok"
    redis = hub.node.store.redis
    stats_keys = [k async for k in redis.scan_iter(match="vg:{narbonne}:stats:*")]
    before = {k: await redis.hgetall(k) for k in stats_keys}

    headers = {"authorization": f"Bearer {token('console', 'dpo')}"}
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        erased = await http.post("/api/v1/citizens/alice/erase", headers=headers)
    assert erased.status_code == 200, erased.text

    assert {k: await redis.hgetall(k) for k in stats_keys} == before  # the town's figures stay
    trail = str(await _history(hub, a1["incident"]))
    assert "Oui, au 12" not in trail and "voisin du 12" not in trail and "alice" not in trail
    assert "Encore ?" in trail  # what the control room wrote stays in its trail
    events = str(await redis.xrange("vg:{narbonne}:events"))
    assert "Oui, au 12" not in events and "voisin du 12" not in events
    left = [k async for k in redis.scan_iter(match="vg:{narbonne}:*alice*")]
    assert left == []
