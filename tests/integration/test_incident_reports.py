"""The HTTP incident API lists the incident's reports: texts and times, never reporters."""

from __future__ import annotations

from typing import Any

import httpx

from hub.server.runner import RunningHub
from tests.integration.test_lifecycle import CENTRE, NEAR
from tests.wire import Peer, connect, token


async def _submit(citizen: Peer, ref: str, text: str, at: tuple[float, float]) -> dict[str, Any]:
    ack = await citizen.request(
        {
            "type": "alert.submit",
            "ref": ref,
            "category": "noise",
            "lat": at[0],
            "lon": at[1],
            "text": text,
        }
    )
    assert ack["type"] == "alert.ack", ack
    return ack


async def _get(hub: RunningHub, incident: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        reply = await http.get(
            f"{hub.http_url}/api/v1/incidents/{incident}",
            headers={"Authorization": f"Bearer {token('console', 'op1')}"},
        )
    assert reply.status_code == 200
    assert "alice" not in reply.text and "bob" not in reply.text
    body: dict[str, Any] = reply.json()
    return body


async def test_reports_carry_each_text_and_time_oldest_first(hub: RunningHub) -> None:
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    first = await _submit(alice, "a1", "<img src=x onerror=alert(1)>", CENTRE)
    second = await _submit(bob, "b1", "music since 22:00", NEAR)
    assert second["incident"] == first["incident"]  # grouped
    reports = (await _get(hub, first["incident"]))["reports"]
    assert [r["alert"] for r in reports] == [first["alert"], second["alert"]]
    assert [r["text"] for r in reports] == ["<img src=x onerror=alert(1)>", "music since 22:00"]
    assert reports[0]["at"] == first["at"] and reports[0]["status"] == "received"
    assert set(reports[0]) == {"alert", "at", "text", "status", "category"}
    for peer in (alice, bob):
        await peer.close()


async def test_a_merge_brings_the_sources_reports(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    one = await _submit(alice, "a1", "here", CENTRE)
    other = await _submit(alice, "a2", "there", (43.16, 3.16))
    assert other["incident"] != one["incident"]
    merge = {
        "type": "incident.merge",
        "ref": "m",
        "into": one["incident"],
        "from": [other["incident"]],
    }
    assert (await console.request(merge))["type"] == "ok"
    reports = (await _get(hub, one["incident"]))["reports"]
    assert [r["text"] for r in reports] == ["here", "there"]
    assert reports[1]["status"] == "merged"
    for peer in (console, alice):
        await peer.close()
