"""Neighbours who watch over each other: the published incidents of a resident's cells,
at the coarse resolution only, "me too" as a distinct report, unpublishing, and the
feed's durability, across two hub processes."""

from __future__ import annotations

import asyncio
import time

import h3
import orjson
from bench.wsclient import open_client
from redis.asyncio import Redis

from tests.conftest import HubFactory
from tests.integration.fault_tools import eventually
from tests.wire import connect, token

CENTRE = (43.1839, 3.0042)
PLAGE = (43.1600, 3.1600)
AREA = h3.latlng_to_cell(*CENTRE, 7)
PUBLIC = {"id", "category", "status", "cell", "opened_at", "updated_at", "published", "reports"}


async def test_published_incidents_reach_their_neighbours(hub_factory: HubFactory) -> None:
    async with hub_factory() as a, hub_factory() as b:
        console, _ = await connect(a.ws_url, "console", "op1")
        await console.expect("snapshot")
        alice, _ = await connect(a.ws_url, "citizen", "alice")
        bob, _ = await connect(b.ws_url, "citizen", "bob")
        opted = await bob.request({"type": "neighbours.follow", "ref": "f", "cells": [AREA]})
        assert opted["type"] == "neighbours" and opted["incidents"] == []

        submit = {"type": "alert.submit", "ref": "a1", "category": "noise",
                  "lat": CENTRE[0], "lon": CENTRE[1], "text": "Musique au 12 rue X"}  # fmt: skip
        ack = await alice.request(submit)
        await bob.nothing(0.3)  # not published: the control room decides
        publish = {"type": "incident.publish", "ref": "p", "incident": ack["incident"]}
        assert (await console.request(publish))["type"] == "ok"
        seen = await bob.expect("neighbour")
        view = seen["incident"]
        assert set(view) == PUBLIC and view["cell"] == AREA and view["published"] is True
        assert seen["stream"] == "events" and "Musique" not in str(seen)
        assert "alice" not in str(seen) and "lat" not in str(seen)

        # "me too": a distinct report of the same incident, raising its reporters.
        me_too = {"type": "neighbour.corroborate", "ref": "m1", "incident": ack["incident"]}
        mine = await bob.request(me_too)
        assert mine["type"] == "alert.ack" and mine["incident"] == ack["incident"]
        assert (await bob.request(me_too))["alert"] == mine["alert"]  # same ref, same report
        counted = await console.expect("incident", where=lambda m: m["incident"]["reporters"] == 2)
        assert counted["incident"]["reports"] == 2
        again = await bob.request({**me_too, "ref": "m2"})
        assert again["code"] == "conflict"  # one person counts once
        offset = (await bob.expect("neighbour", where=lambda m: m["incident"]["reports"] == 2))[
            "offset"
        ]

        # Bob leaves; the control room unpublishes; Bob resumes on the other process.
        await bob.close()
        unpublish = {**publish, "ref": "u", "published": False}
        assert (await console.request(unpublish))["type"] == "ok"
        bob, _ = await connect(a.ws_url, "citizen", "bob", resume={"events": offset})
        gone = await bob.expect("neighbour")
        assert gone["incident"]["published"] is False
        await bob.close()
        # Without an offset: a snapshot, and the opt-in was kept.
        bob, _ = await connect(b.ws_url, "citizen", "bob")
        fresh = await bob.expect("neighbours")
        assert fresh["incidents"] == []
        assert (await bob.request({**me_too, "ref": "m3"}))["code"] == "not_found"

        # The town publishes road hazards at once; far cells stay out of Bob's feed.
        hazard = {**submit, "ref": "a2", "category": "road_hazard", "text": ""}
        far = {**hazard, "ref": "a3", "lat": PLAGE[0], "lon": PLAGE[1]}
        assert (await alice.request(far))["type"] == "alert.ack"
        near = await alice.request(hazard)
        auto = await bob.expect("neighbour")
        assert auto["incident"]["id"] == near["incident"]
        await bob.nothing(0.3)


async def test_refusals(hub_factory: HubFactory) -> None:
    async with hub_factory() as hub:
        carol, _ = await connect(hub.ws_url, "citizen", "carol")
        follow = {"type": "neighbours.follow", "ref": "f", "cells": [AREA]}
        assert (await carol.request({**follow, "type": "incident.publish", "incident": "in1"}))[
            "code"
        ] == "forbidden"
        many = list(h3.cell_to_children(AREA, 10))[:51]
        assert (await carol.request({**follow, "cells": many}))["code"] == "too_large"
        outside = h3.latlng_to_cell(48.85, 2.35, 7)
        assert (await carol.request({**follow, "cells": [outside]}))["code"] == "out_of_area"
        me_too = {"type": "neighbour.corroborate", "ref": "m", "incident": "in999"}
        assert (await carol.request(me_too))["code"] == "not_found"
        # A "me too" counts against the citizen's alert limit (5 per 10 minutes).
        dave, _ = await connect(hub.ws_url, "citizen", "dave")
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        ack = await dave.request({"type": "alert.submit", "ref": "d", "category": "road_hazard",
                                  "lat": CENTRE[0], "lon": CENTRE[1]})  # fmt: skip
        for i in range(5):
            spot = (CENTRE[0] + 0.01 * (i + 1), CENTRE[1])
            theft = {"type": "alert.submit", "ref": f"c{i}", "category": "theft"}
            sent = await carol.request({**theft, "lat": spot[0], "lon": spot[1]})
            assert sent["type"] == "alert.ack"
        limited = await carol.request({**me_too, "incident": ack["incident"]})
        assert limited["code"] == "rate_limited" and limited["retry_after_s"] > 0


async def test_no_event_newer_than_the_opt_in_snapshot_arrives_before_it(
    hub_factory: HubFactory,
) -> None:
    """While the control room keeps publishing and unpublishing an incident, a resident
    opts in again and again. The reply's snapshot holds the incident or not; the first
    `neighbour` after the reply must be the toggle after that snapshot (the opposite
    state). One newer than the snapshot arriving before it (then overwritten by it in the
    app) would show up as a first event that repeats the snapshot's state."""
    async with hub_factory() as hub:
        console, _ = await connect(hub.ws_url, "console", "op1")
        await console.expect("snapshot")
        alice, _ = await connect(hub.ws_url, "citizen", "alice")
        bob, _ = await connect(hub.ws_url, "citizen", "bob")
        submit = {"type": "alert.submit", "ref": "a1", "category": "noise",
                  "lat": CENTRE[0], "lon": CENTRE[1]}  # fmt: skip
        incident = (await alice.request(submit))["incident"]
        stop = asyncio.Event()

        async def toggle() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                publish = {"type": "incident.publish", "ref": f"t{n}", "incident": incident,
                           "published": n % 2 == 1}  # fmt: skip
                done = await console.request(publish)
                assert done["type"] == "ok", done
                await asyncio.sleep(0.025)  # under the session's 50 messages/s

        async def stall() -> None:
            # A loaded machine: each turn of the loop takes a while, so replies from
            # Redis and stream entries are read in the same batch, in any order.
            while not stop.is_set():
                time.sleep(0.005)  # noqa: ASYNC251 (blocking on purpose)
                await asyncio.sleep(0)

        toggler = asyncio.create_task(toggle())
        staller = asyncio.create_task(stall())
        try:
            for i in range(60):
                reply = await bob.request(
                    {"type": "neighbours.follow", "ref": f"f{i}", "cells": [AREA]}
                )
                shown = any(v["id"] == incident for v in reply["incidents"])
                bob.backlog.clear()  # what came before the reply is older than its snapshot
                first = await bob.expect("neighbour")
                assert first["incident"]["published"] is not shown, (i, reply, first)
        finally:
            stop.set()
            await asyncio.gather(toggler, staller)


async def test_a_request_sent_while_the_session_opens_waits_for_it(
    hub_factory: HubFactory, redis: Redis
) -> None:
    # The app sends its opt-in right behind its hello. While the session is being
    # opened (Redis paused: its sync cannot finish) the request waits, and is
    # handled once the session is live; it used to run while the session was still
    # syncing, and the opt-in's hold failed as `internal`.
    async with hub_factory() as hub:
        ws = await open_client(hub.ws_url, "vigie.v1.json")
        received: list[dict[str, object]] = []
        ws.on_message = lambda _op, payload: received.append(orjson.loads(payload))
        try:
            await redis.execute_command("CLIENT", "PAUSE", 600, "ALL")
            ws.send_text(orjson.dumps({"type": "hello", "token": token("citizen", "early")}))
            await asyncio.sleep(0.2)  # the hub has the session, and waits on Redis
            ws.send_text(orjson.dumps({"type": "neighbours.follow", "ref": "f", "cells": [AREA]}))
            await eventually(lambda: any(m.get("ref") == "f" for m in received), 10)
            reply = next(m for m in received if m.get("ref") == "f")
            assert reply["type"] == "neighbours", reply
            assert received[0]["type"] == "welcome"
        finally:
            ws.close()
            if ws.transport is not None:
                ws.transport.abort()
