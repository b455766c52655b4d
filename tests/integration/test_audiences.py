"""Privacy by role, as each audience receives it over real WebSockets: consoles and
the units covering an incident see its point; residents see their own alerts'
statuses (no officer, no unit, no position, nobody else's alert) and notices at
the notice resolution; a unit not covering an incident gets nothing of it; no
reporter's identity reaches anyone."""

from __future__ import annotations

from typing import Any

import h3
import orjson

from hub.server.runner import RunningHub
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
NEAR = (43.1843, 3.0047)
PLAGE = (43.1600, 3.1600)  # Narbonne-Plage: ~13 km away
OPERATOR = "officer-dupont"
OPERATOR_NOTE = "suspect Jean Dupont, 3 rue Droite"
UNIT_NOTE = "interpellé M. Durand"
STATUS_FIELDS = {"type", "alert", "status", "at", "note", "stream", "offset"}


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(orjson.dumps(m).decode() for m in messages)


async def covering(hub: RunningHub, sub: str, point: tuple[float, float]) -> Peer:
    unit, _ = await connect(hub.ws_url, "unit", sub)
    await unit.expect("snapshot")
    for message in (
        {"type": "cover", "ref": "cv", "cells": [h3.latlng_to_cell(*point, 7)]},
        {"type": "unit.position", "ref": "p", "lat": point[0], "lon": point[1]},
    ):
        assert (await unit.request(message))["type"] == "ok"
    return unit


async def submit(citizen: Peer, ref: str, at: tuple[float, float], text: str) -> dict[str, Any]:
    ack = await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": "violence", "lat": at[0],
         "lon": at[1], "text": text}
    )  # fmt: skip
    assert ack["type"] == "alert.ack", ack
    return ack


async def command(peer: Peer, **message: Any) -> dict[str, Any]:
    reply = await peer.request({"ref": f"r{len(peer.seen)}", **message})
    assert reply["type"] == "ok", reply
    return reply


async def test_each_audience_gets_what_its_role_allows(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", OPERATOR)
    await console.expect("snapshot")
    near_unit = await covering(hub, "u-centre", CENTRE)
    far_unit = await covering(hub, "u-plage", PLAGE)
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    a = await submit(alice, "a1", CENTRE, "je vois une agression")
    b = await submit(bob, "b1", NEAR, "on entend des cris")
    incident = a["incident"]
    assert b["incident"] == incident

    # The console and the covering unit see the point.
    seen = await console.expect("incident", where=lambda m: m["incident"]["id"] == incident)
    assert (seen["incident"]["lat"], seen["incident"]["lon"]) == CENTRE
    got = await near_unit.expect("incident", where=lambda m: m["incident"]["id"] == incident)
    assert (got["incident"]["lat"], got["incident"]["lon"]) == CENTRE

    await command(console, type="incident.update", incident=incident, status="acknowledged",
                  note=OPERATOR_NOTE)  # fmt: skip
    offer = await command(console, type="dispatch.assign", incident=incident, unit="u-centre")
    await near_unit.expect("assignment")
    await command(near_unit, type="assignment.accept", assignment=offer["assignment"])
    await command(near_unit, type="incident.status", incident=incident, status="on_scene")
    await command(near_unit, type="incident.status", incident=incident, status="resolved",
                  note=UNIT_NOTE)  # fmt: skip
    await alice.expect("alert.status", status="resolved")
    await bob.expect("alert.status", status="resolved")

    # Residents: their own alerts' statuses only, and nothing of anyone else.
    for citizen, mine, other in ((alice, a, b), (bob, b, a)):
        messages = citizen.seen + await citizen.collect(0.3)
        assert {m["type"] for m in messages} <= {"welcome", "alert.ack", "alert.status"}
        statuses = [m for m in messages if m["type"] == "alert.status"]
        assert {m["status"] for m in statuses} == {"acknowledged", "dispatched", "on_scene",
                                                   "resolved"}  # fmt: skip
        for status in statuses:
            assert set(status) <= STATUS_FIELDS and status["alert"] == mine["alert"]
        blob = text_of(messages)
        for secret in (OPERATOR, OPERATOR_NOTE, UNIT_NOTE, "u-centre", other["alert"],
                       "alice" if citizen is bob else "bob", "agression", "cris",
                       repr(CENTRE[0]), repr(NEAR[0])):  # fmt: skip
            assert secret not in blob, (secret, blob)

    # The unit not covering the incident got nothing of it, live or in its snapshot.
    assert incident not in text_of(far_unit.seen + await far_unit.collect(0.3))
    again, _ = await connect(hub.ws_url, "unit", "u-plage")
    snapshot = await again.expect("snapshot")
    assert all(i["id"] != incident for i in snapshot["incidents"])

    # No reporter's identity reaches a unit or a console.
    for peer in (near_unit, far_unit, console):
        blob = text_of(peer.seen + await peer.collect(0.2))
        assert "alice" not in blob and "bob" not in blob
    for peer in (console, near_unit, far_unit, again, alice, bob):
        await peer.close()


async def test_residents_receive_notices_at_the_notice_resolution(hub: RunningHub) -> None:
    console, _ = await connect(hub.ws_url, "console", OPERATOR)
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    fine = h3.latlng_to_cell(*CENTRE, 9)
    assert (await alice.request({"type": "citizen.follow", "ref": "f", "cells": [fine]}))[
        "type"
    ] == "ok"
    reply = await command(console, type="notice", cells=[fine, h3.latlng_to_cell(*NEAR, 9)],
                          text="Rue barrée", severity="info")  # fmt: skip
    notice = await alice.expect("notice", notice=reply["notice"])
    assert notice["cells"] == [h3.latlng_to_cell(*CENTRE, 7)]  # one coarse cell, not two fine
    assert notice["text"] == "Rue barrée"
    await console.close()
    await alice.close()


async def test_a_citizen_follows_its_last_alerts_cell_only(hub: RunningHub) -> None:
    """Notices reach a citizen for the cells it follows and its last alert's cell: not
    for every cell it ever reported in (issue #13: that set grew with every alert)."""
    console, _ = await connect(hub.ws_url, "console", OPERATOR)
    await console.expect("snapshot")
    carol, _ = await connect(hub.ws_url, "citizen", "carol")
    centre, plage = h3.latlng_to_cell(*CENTRE, 9), h3.latlng_to_cell(*PLAGE, 9)

    async def reaches(cell: str) -> bool:
        reply = await command(console, type="notice", cells=[cell], text="Rue barrée",
                              severity="info")  # fmt: skip
        return any(m.get("notice") == reply["notice"] for m in await carol.collect(0.3))

    await submit(carol, "c1", CENTRE, "first")
    await submit(carol, "c2", PLAGE, "second")
    (session,) = (s for s in hub.node.sessions.values() if s.sub == "carol")
    assert session.follow_cells == {plage}
    assert await reaches(plage)  # the last alert's cell
    assert not await reaches(centre)  # an earlier alert's cell: no longer followed
    # `citizen.follow` sets the cells asked for; the last alert's cell stays followed.
    assert (await carol.request({"type": "citizen.follow", "ref": "f", "cells": [centre]}))[
        "type"
    ] == "ok"
    assert session.follow_cells == {centre, plage}
    assert await reaches(centre)
    await submit(carol, "c3", CENTRE, "third")  # the last alert's cell moves back
    assert session.follow_cells == {centre}
    assert not await reaches(plage)
    await console.close()
    await carol.close()
