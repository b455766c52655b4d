"""The first slice end to end: a citizen reports, a covering unit and a console see it."""

from __future__ import annotations

import h3

from hub.server.runner import RunningHub
from tests.wire import connect

CENTRE = (43.1839, 3.0042)


async def test_alert_reaches_covering_unit_and_console(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", "op1")
    snapshot = await console.expect("snapshot")
    assert snapshot["incidents"] == [] and snapshot["units"] == []
    unit, _ = await connect(hub.ws_url, "unit", "u1", codec="msgpack")
    await unit.expect("snapshot")
    sector = h3.latlng_to_cell(*CENTRE, 7)
    assert (await unit.request({"type": "cover", "ref": "c", "cells": [sector]}))["type"] == "ok"
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await citizen.request(
        {"type": "alert.submit", "ref": "r1", "category": "noise", "lat": CENTRE[0],
         "lon": CENTRE[1], "text": "loud music"}
    )  # fmt: skip
    assert ack["type"] == "alert.ack" and ack["status"] == "received"
    pushed = await unit.expect("incident")
    assert pushed["incident"]["id"] == ack["incident"]
    assert pushed["stream"] == "events" and pushed["offset"]
    seen = await console.expect("incident")
    assert seen["incident"]["id"] == ack["incident"]
    for peer in (console, unit, citizen):
        await peer.close()
