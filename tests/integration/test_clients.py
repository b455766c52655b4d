"""The client library: pure parts (backoff, close codes, offsets, mailbox, model) and
the roles against a real hub on a real Redis (acks, idempotency, coverage, console
model, reconnect and resume without loss or duplicates, 4401 and 1009)."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

import h3
import pytest

from clients import (
    Action,
    Backoff,
    Citizen,
    Connection,
    Console,
    ConsoleModel,
    HubError,
    Mailbox,
    Message,
    OffsetTracker,
    Overflow,
    ProtocolViolation,
    Unauthorized,
    Unit,
    action_for_close,
)
from hub.core.errors import CloseCode
from hub.server.runner import RunningHub, running_hub
from hub.server.session import Session
from tests.wire import SECRET, token

CENTRE = (43.1839, 3.0042)
PLAGE = (43.1600, 3.1600)
SECTOR = h3.latlng_to_cell(*CENTRE, 7)
QUICK = Backoff(base_s=0.05, cap_s=0.2)


def near_centre(i: int) -> tuple[float, float]:
    """Distinct points a few hundred metres apart inside the centre sector."""
    return CENTRE[0] + 0.0015 * (i % 4), CENTRE[1] + 0.0015 * (i // 4)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `check()` holds (polling: the hub pushes asynchronously)."""
    async with asyncio.timeout(timeout):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


def server_session(hub: RunningHub, sub: str) -> Session:
    """The hub's live session of `sub` (to close it from the server side)."""
    return next(s for s in hub.node.sessions.values() if s.sub == sub and s.close_code is None)


# -- pure: backoff, close codes, offsets, mailbox, model -------------------------------


def test_backoff_full_jitter_is_bounded_by_an_exponential_ceiling_and_the_cap() -> None:
    backoff = Backoff(base_s=0.2, cap_s=10.0, rand=random.Random(7).random)
    ceilings = [backoff.ceiling(n) for n in range(12)]
    assert ceilings[:4] == [0.2, 0.4, 0.8, 1.6]
    assert max(ceilings) == 10.0 and backoff.ceiling(10_000) == 10.0
    for attempt in range(64):
        delays = [backoff.delay(attempt) for _ in range(50)]
        assert all(0.0 <= d < backoff.ceiling(attempt) for d in delays)
        assert len(set(delays)) == 50  # jittered: no two clients retry in lockstep
    assert Backoff(rand=lambda: 0.0).delay(5) == 0.0
    with pytest.raises(ValueError):
        Backoff(base_s=0.0)


def test_close_codes_map_to_reconnect_reauthenticate_or_stop() -> None:
    for code in (None, 1001, 1004, 1005, 1006, 1011, 1012, 1013, 4000, 4408, 4429, 4999):
        assert action_for_close(code) is Action.RECONNECT, code
    assert action_for_close(4401) is Action.REAUTHENTICATE
    for code in (1000, 1002, 1003, 1007, 1008, 1009, 1010, 4400, 4402, 4403, 4407):
        assert action_for_close(code) is Action.STOP, code


def test_offsets_compare_numerically_and_drop_duplicates() -> None:
    tracker = OffsetTracker({"events": "9-5"})
    assert not tracker.accept("events", "9-5") and not tracker.accept("events", "9-4")
    assert tracker.accept("events", "10-0")  # as strings, "10-0" < "9-5"
    assert tracker.accept("inbox", "1-0") and tracker.resume() == {"events": "10-0", "inbox": "1-0"}
    tracker.forget("events")
    assert tracker.accept("events", "3-0")
    tracker.force("events", "2-0")
    assert tracker.last("events") == "2-0"
    assert tracker.accept("events", "garbage") and tracker.last("events") == "2-0"


async def test_mailbox_backpressure_makes_the_reader_wait_and_loses_nothing() -> None:
    mailbox = Mailbox(2, Overflow.BACKPRESSURE)
    for n in range(2):
        await mailbox.put({"type": "m", "n": n})
    blocked = asyncio.create_task(mailbox.put({"type": "m", "n": 2}))
    await asyncio.sleep(0.02)
    assert not blocked.done() and len(mailbox) == 2
    assert (await mailbox.get()) == {"type": "m", "n": 0}
    await asyncio.wait_for(blocked, 1)
    assert [(await mailbox.get()) for _ in range(2)] == [{"type": "m", "n": n} for n in (1, 2)]
    assert mailbox.dropped == 0
    mailbox.close()
    assert await mailbox.get() is None


async def test_mailbox_drop_oldest_keeps_the_newest_and_counts_drops() -> None:
    mailbox = Mailbox(3, Overflow.DROP_OLDEST)
    for n in range(5):
        await mailbox.put({"type": "m", "n": n})
    assert mailbox.dropped == 2
    mailbox.close()
    await mailbox.put({"type": "m", "n": 99})  # closed: refused
    assert [m["n"] for m in [await mailbox.get() for _ in range(3)] if m] == [2, 3, 4]
    assert await mailbox.get() is None


def _incident(iid: str, priority: int, score: float, status: str = "open") -> dict[str, Any]:
    return {"id": iid, "category": "noise", "priority": priority, "score": score,
            "cell": "891f8d7a49bffff", "lat": 43.18, "lon": 3.0, "status": status,
            "reports": 1, "opened_at": 1, "updated_at": 1}  # fmt: skip


def test_console_model_ranks_incidents_and_follows_units_and_resets() -> None:
    model = ConsoleModel()
    model.apply({"type": "snapshot", "incidents": [_incident("in1", 4, 40.0)],
                 "units": [{"id": "u1", "status": "available", "online": True,
                            "sector": ["871f8d7a4ffffff"]}]})  # fmt: skip
    model.apply({"type": "incident", "incident": _incident("in2", 1, 100.0)})
    model.apply({"type": "incident", "incident": _incident("in3", 4, 45.5)})
    assert [i.id for i in model.ranked()] == ["in2", "in3", "in1"]
    model.apply({"type": "incident", "incident": _incident("in2", 1, 100.0, "resolved")})
    assert "in2" not in model.incidents
    moved = {"id": "u1", "lat": 43.2, "lon": 3.01, "cell": "891f8d7a49bffff"}
    model.apply({"type": "unit", "change": "position", "unit": moved})
    unit = model.units["u1"]
    assert unit.cell == "891f8d7a49bffff" and unit.sector == ("871f8d7a4ffffff",) and unit.online
    assert [u.id for u in model.available_units()] == ["u1"]
    model.apply({"type": "reset", "stream": "events"})
    assert model.stale
    model.apply({"type": "snapshot", "incidents": [], "units": []})
    assert not model.stale and not model.incidents and not model.units


def test_console_model_takes_the_pending_offers_of_a_snapshot() -> None:
    def offer(asg: str, incident: str, unit: str) -> dict[str, Any]:
        return {"type": "assignment.state", "assignment": asg, "incident": incident,
                "unit": unit, "state": "offered", "at": 5, "expires_at": 30_005}  # fmt: skip

    model = ConsoleModel()
    model.apply(offer("as1", "in1", "u1"))  # seen live, then the console resyncs
    model.apply({**offer("as0", "in0", "u2"), "state": "declined", "reason": "busy"})
    model.apply({"type": "snapshot", "incidents": [_incident("in2", 2, 80.0)], "units": [],
                 "offers": [offer("as2", "in2", "u1")]})  # fmt: skip
    assert model.assignments["as2"].state == "offered" and model.assignments["as2"].unit == "u1"
    assert "as1" not in model.assignments  # pending before, not listed: it ended meanwhile
    assert model.assignments["as0"].state == "declined"  # an ended one stays as it was
    model.apply({"type": "snapshot", "incidents": [], "units": []})  # an older hub: no offers
    assert set(model.assignments) == {"as0", "as2"}


# -- against a real hub ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_citizen_submit_is_acked(hub: RunningHub, encoding: str) -> None:
    async with Citizen(hub.ws_url, token("citizen", "c1"), encoding=encoding) as citizen:
        assert citizen.welcome is not None and citizen.welcome["role"] == "citizen"
        ack = await citizen.submit_alert("noise", *CENTRE, text="loud music", ref="r1")
    assert ack["type"] == "alert.ack" and ack["ref"] == "r1" and ack["status"] == "received"
    assert ack["alert"] and ack["incident"] and citizen.alerts == {ack["alert"]: "received"}


async def test_citizen_refused_alert_raises_hub_error(hub: RunningHub) -> None:
    async with Citizen(hub.ws_url, token("citizen", "c1")) as citizen:
        with pytest.raises(HubError) as refused:
            await citizen.submit_alert("noise", 48.8566, 2.3522)  # Paris is not Narbonne
    assert refused.value.code == "out_of_area"


async def test_resubmitting_a_ref_after_reconnect_yields_the_same_ack(hub: RunningHub) -> None:
    async with Citizen(hub.ws_url, token("citizen", "c1"), backoff=QUICK) as citizen:
        first = await citizen.submit_alert("theft", *CENTRE, ref="same-ref")
        server_session(hub, "c1").close(1012)
        # Sent while the session is down: held, then sent on the next session.
        again = await citizen.submit_alert("theft", *CENTRE, ref="same-ref")
        assert citizen.sessions == 2 and citizen.close_codes == [1012]
    assert (again["alert"], again["incident"]) == (first["alert"], first["incident"])


async def test_unit_receives_the_incidents_of_its_cover_only(hub: RunningHub) -> None:
    async with (
        Unit(hub.ws_url, token("unit", "u1"), encoding="msgpack") as unit,
        Citizen(hub.ws_url, token("citizen", "c1")) as citizen,
    ):
        assert (await unit.cover([SECTOR]))["type"] == "ok"
        far = await citizen.submit_alert("noise", *PLAGE)
        near = await citizen.submit_alert("violence", *CENTRE, text="fight")
        await eventually(lambda: near["incident"] in unit.incidents)
        pushed = await unit.receive(timeout=1)
        while pushed["type"] != "incident":
            pushed = await unit.receive(timeout=1)
    assert pushed["incident"]["id"] == near["incident"] and pushed["stream"] == "events"
    assert far["incident"] not in unit.incidents
    assert unit.incidents[near["incident"]].priority == 1


async def test_console_model_is_fed_by_snapshot_then_events(hub: RunningHub) -> None:
    citizen = Citizen(hub.ws_url, token("citizen", "c1"))
    unit = Unit(hub.ws_url, token("unit", "u1"))
    console = Console(hub.ws_url, token("console", "op1"))
    async with citizen, console:
        async with unit:
            await unit.cover([SECTOR])
            before = await citizen.submit_alert("noise", *near_centre(0))
            async with Console(hub.ws_url, token("console", "op2")) as late:
                # Joined after the facts: it learns them from its snapshot.
                assert before["incident"] in late.model.incidents
                assert late.model.units["u1"].online and late.model.units["u1"].sector == (SECTOR,)
            after = await citizen.submit_alert("violence", *near_centre(5))
            await unit.position(*near_centre(5))
            cell = h3.latlng_to_cell(*near_centre(5), 9)
            await eventually(lambda: console.model.units["u1"].cell == cell)
            await eventually(lambda: after["incident"] in console.model.incidents)
        await eventually(lambda: not console.model.units["u1"].online)
    assert [i.id for i in console.model.ranked()] == [after["incident"], before["incident"]]
    assert console.model.units["u1"].sector == (SECTOR,)


async def test_reconnect_and_resume_lose_and_duplicate_no_incident_event(
    hub: RunningHub,
) -> None:
    # A pinned backoff keeps both clients away ~0.3 s: the second batch happens while
    # they are disconnected, so it can only reach them through `hello.resume`.
    slow = Backoff(base_s=0.3, cap_s=0.3, rand=lambda: 0.999)
    console = Console(hub.ws_url, token("console", "op1"), backoff=slow)
    unit = Unit(hub.ws_url, token("unit", "u1"), encoding="msgpack", backoff=slow)
    to_console: list[Message] = []
    to_unit: list[Message] = []
    console.add_listener(lambda m: m["type"] == "incident" and to_console.append(m))
    unit.add_listener(lambda m: m["type"] == "incident" and to_unit.append(m))
    async with console, unit, Citizen(hub.ws_url, token("citizen", "c1")) as c1:
        await unit.cover([SECTOR])
        # Two citizens: the hub allows each one 5 alerts per 10 minutes.
        acks = [await c1.submit_alert("noise", *near_centre(i)) for i in range(5)]
        await eventually(lambda: len(to_console) == 5 and len(to_unit) == 5)
        server_session(hub, "op1").close(1012)
        server_session(hub, "u1").close(1001)
        await eventually(lambda: not console.connected and not unit.connected)
        async with Citizen(hub.ws_url, token("citizen", "c2")) as c2:
            acks += [await c2.submit_alert("noise", *near_centre(i)) for i in range(5, 10)]
        await eventually(lambda: len(to_console) >= 10 and len(to_unit) >= 10)
        await asyncio.sleep(0.2)  # room for a late duplicate to show up
    expected = [a["incident"] for a in acks]
    for seen, client in ((to_console, console), (to_unit, unit)):
        assert client.sessions == 2 and client.close_codes[0] in (1012, 1001)
        assert [m["incident"]["id"] for m in seen] == expected
        offsets = [tuple(map(int, m["offset"].split("-"))) for m in seen]
        assert offsets == sorted(set(offsets))  # strictly increasing: no duplicate


async def test_hub_restart_on_the_same_port_is_survived(redis_url: str, config: Any) -> None:
    async with running_hub(config, redis_url, SECRET) as first:
        port = first.port
        console = Console(first.ws_url, token("console", "op1"), backoff=QUICK)
        await console.start()
    try:
        # The hub is gone: the console keeps retrying with backoff until a hub is back.
        async with (
            running_hub(config, redis_url, SECRET, port=port) as second,
            Citizen(second.ws_url, token("citizen", "c1")) as citizen,
        ):
            await eventually(lambda: console.connected)
            ack = await citizen.submit_alert("noise", *CENTRE)
            await eventually(lambda: ack["incident"] in console.model.incidents)
            assert console.sessions == 2 and console.close_codes[0] in (1001, 1012, 1006)
    finally:
        await console.close()


async def test_4401_asks_the_token_provider_then_reconnects(hub: RunningHub) -> None:
    calls: list[int] = []

    async def fresh() -> str | None:
        calls.append(1)
        return token("console", "op1")

    expired = token("console", "op1", ttl_s=-60)
    async with Console(hub.ws_url, expired, token_provider=fresh, backoff=QUICK) as console:
        assert console.close_codes == [4401] and calls == [1] and console.sessions == 1
    with pytest.raises(Unauthorized):
        await Connection(hub.ws_url, expired, backoff=QUICK).start()


@pytest.mark.parametrize(
    "code",
    [
        CloseCode.TOO_SLOW,
        CloseCode.SERVICE_RESTART,
        CloseCode.INTERNAL_ERROR,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.TOO_MANY,
    ],
    ids=str,
)
async def test_a_passing_trouble_is_reconnected_and_resumed(hub: RunningHub, code: int) -> None:
    # Pinned backoff: the console stays away ~0.3 s, so the second alert can only
    # reach it through `hello.resume`.
    slow = Backoff(base_s=0.3, cap_s=0.3, rand=lambda: 0.999)
    seen: list[str] = []
    console = Console(hub.ws_url, token("console", "op1"), backoff=slow)
    console.add_listener(lambda m: m["type"] == "incident" and seen.append(m["incident"]["id"]))
    async with console, Citizen(hub.ws_url, token("citizen", "c1")) as citizen:
        first = await citizen.submit_alert("noise", *near_centre(0))
        await eventually(lambda: seen == [first["incident"]])
        server_session(hub, "op1").close(code, "test")
        await eventually(lambda: not console.connected)
        second = await citizen.submit_alert("violence", *near_centre(5))
        await eventually(lambda: console.connected and len(seen) == 2)
        assert console.sessions == 2 and console.close_codes == [code]
        assert console.welcome is not None and console.welcome["type"] == "welcome"
    assert seen == [first["incident"], second["incident"]]  # nothing lost, nothing twice


@pytest.mark.parametrize("code", [1000, 1003, 4403, 4407])
async def test_a_final_close_code_stops_the_connection_with_a_clear_error(
    hub: RunningHub, code: int
) -> None:
    console = Console(hub.ws_url, token("console", "op1"), backoff=QUICK)
    await console.start()
    try:
        server_session(hub, "op1").close(code, "not for you")
        with pytest.raises(ProtocolViolation) as stopped:
            async with asyncio.timeout(5):
                async for _ in console:  # what was queued (welcome, snapshot), then the end
                    pass
        assert stopped.value.code == code and console.closed and console.sessions == 1
        assert f"with {code} (not for you): reconnecting cannot help" in str(stopped.value)
    finally:
        await console.close()


async def test_4401_without_a_token_provider_gives_up_with_unauthorized(
    hub: RunningHub,
) -> None:
    expired = token("console", "op1", ttl_s=-60)
    console = Console(hub.ws_url, expired, backoff=QUICK)
    with pytest.raises(
        Unauthorized, match=re.escape("refused the token (4401) and there is no token_provider")
    ):
        await console.start()
    assert console.close_codes == [4401] and console.sessions == 0 and console.closed


async def test_client_bugs_stop_the_connection_and_raise(hub: RunningHub) -> None:
    citizen = Citizen(hub.ws_url, token("citizen", "c1"))
    await citizen.start()
    try:
        await citizen.send({"type": "alert.submit", "ref": "big", "text": "x" * 70_000})
        with pytest.raises(ProtocolViolation) as stopped:
            async for _ in citizen:
                pass
        assert stopped.value.code == 1009 and citizen.closed
        with pytest.raises(ProtocolViolation):
            await citizen.submit_alert("noise", *CENTRE)
    finally:
        await citizen.close()
    with pytest.raises(ProtocolViolation):  # a citizen token in a console
        await Console(hub.ws_url, token("citizen", "c2")).start()


ConsoleCall = Callable[[Console], Awaitable[Message]]


@pytest.mark.parametrize(
    "command",
    [
        lambda c: c.assign("in1", "u1", timeout_s=30),
        lambda c: c.update("in1", status="acknowledged", note="seen"),
        lambda c: c.merge("in1", ["in2"]),
        lambda c: c.notice([SECTOR], "road closed", "warning"),
        lambda c: c.recommend("in1"),
        lambda c: c.history("in1"),
    ],
    ids=["assign", "update", "merge", "notice", "recommend", "history"],
)
async def test_console_commands_get_an_answer_to_their_ref(
    hub: RunningHub, command: ConsoleCall
) -> None:
    # The hub answers each documented command with its result, `ok` or an `error`
    # carrying the same ref; until it implements them, that is `unknown_type`.
    async with Console(hub.ws_url, token("console", "op1")) as console:
        try:
            reply = await command(console)
        except HubError as refused:
            assert refused.ref and refused.code in ("unknown_type", "not_found", "conflict")
        else:
            assert reply["type"] in ("ok", "recommendation", "incident.history")


async def test_dispatch_lifecycle_through_the_role_classes(hub: RunningHub) -> None:
    async with (
        Console(hub.ws_url, token("console", "op1")) as console,
        Unit(hub.ws_url, token("unit", "u1")) as unit,
        Citizen(hub.ws_url, token("citizen", "c1")) as citizen,
    ):
        await unit.cover([SECTOR])
        await unit.position(*CENTRE)
        ack = await citizen.submit_alert("violence", *CENTRE, text="fight")
        await eventually(lambda: ack["incident"] in console.model.incidents)
        try:
            await console.update(ack["incident"], status="acknowledged", note="seen")
        except HubError as refused:
            if refused.code == "unknown_type":
                pytest.skip("this hub does not implement console commands yet")
            raise
        recommended = await console.recommend(ack["incident"])
        assert recommended["incident"] == ack["incident"]
        offer = await console.assign(ack["incident"], "u1", timeout_s=30)
        await eventually(lambda: offer["assignment"] in unit.assignments)
        await unit.accept(unit.assignments[offer["assignment"]])
        await eventually(lambda: citizen.alerts[ack["alert"]] == "dispatched")
        assignments = console.model.assignments
        await eventually(lambda: assignments[offer["assignment"]].state == "accepted")
        await unit.incident_status(ack["incident"], "on_scene", "arrived")
        await unit.incident_status(ack["incident"], "resolved", "calm again")
        await eventually(lambda: citizen.alerts[ack["alert"]] == "resolved")
        await eventually(lambda: ack["incident"] not in console.model.incidents)
        history = await console.history(ack["incident"])
    assert assignments[offer["assignment"]].unit == "u1"
    assert ack["incident"] not in unit.incidents
    assert history["incident"] == ack["incident"] and history["entries"]


async def test_conversation_and_feedback_with_the_library_across_two_processes(
    hub: RunningHub, hub_factory: Any
) -> None:
    async with (
        hub_factory() as other,
        Citizen(hub.ws_url, token("citizen", "c1"), backoff=QUICK) as citizen,
        Console(other.ws_url, token("console", "op1")) as console,
    ):
        ack = await citizen.submit_alert("noise", *CENTRE)
        sent = await console.write(ack["incident"], "Le bruit continue-t-il ?")
        await eventually(lambda: ack["alert"] in citizen.messages)
        server_session(hub, "c1").close(1012)  # the reply is written while reconnecting
        answer = await citizen.reply(ack, "Oui, toujours", ref="answer-1")
        again = await citizen.reply(ack, "Oui, toujours", ref="answer-1")
        assert again["message"] == answer["message"] and citizen.sessions == 2
        await eventually(lambda: len(console.conversations.get(ack["incident"], [])) == 2)
        await eventually(lambda: len(citizen.messages[ack["alert"]]) == 2)
        first, second = citizen.messages[ack["alert"]]
        assert (first["message"], first["from"]) == (sent["message"], "control_room")
        assert (second["from"], second["text"]) == ("reporter", "Oui, toujours")
        await console.update(ack["incident"], status="closed")
        await eventually(lambda: citizen.alerts.get(ack["alert"]) == "resolved")
        assert (await citizen.rate(ack, 5, "Merci"))["type"] == "ok"
        with pytest.raises(HubError) as refused:
            await citizen.rate(ack, 1)
        assert refused.value.code == "conflict"
        await eventually(
            lambda: console.conversations[ack["incident"]][-1].get("type") == "feedback"
        )


async def test_neighbours_with_the_library_across_a_reconnect(
    hub: RunningHub, hub_factory: Any
) -> None:
    area = h3.latlng_to_cell(*CENTRE, 7)
    async with (
        hub_factory() as other,
        Citizen(hub.ws_url, token("citizen", "c1")) as reporter,
        Citizen(other.ws_url, token("citizen", "n1"), backoff=QUICK) as neighbour,
        Console(hub.ws_url, token("console", "op1")) as console,
    ):
        assert (await neighbour.watch([area]))["incidents"] == []
        ack = await reporter.submit_alert("noise", *CENTRE)
        await console.publish(ack["incident"])
        await eventually(lambda: ack["incident"] in neighbour.neighbourhood)
        mine = await neighbour.me_too(ack["incident"])
        assert mine["incident"] == ack["incident"] and mine["alert"] in neighbour.alerts
        server_session(other, "n1").close(1012)
        await console.publish(ack["incident"], published=False)  # while it reconnects
        await eventually(lambda: ack["incident"] not in neighbour.neighbourhood)
        assert neighbour.sessions == 2
