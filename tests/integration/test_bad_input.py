"""Bad input, message by message: each gets its documented `error` or close code,
the session survives where the protocol says so, and nothing stored changes.

Every case runs against a real hub and a real Redis: the whole database is
dumped before and after the bad frame and must be byte-for-byte the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import h3
import jwt
import msgpack
import orjson
import pytest
import websockets
from redis.asyncio import Redis

from hub.config import Rate
from hub.server.runner import RunningHub
from tests.conftest import HubFactory, RedisFactory
from tests.wire import SECRET, Peer, connect, open_peer, token

CENTRE = (43.1839, 3.0042)  # Narbonne, cathedral
PARIS = (48.8566, 2.3522)
SEA = (43.15, 3.30)  # the Gulf of Lion, east of Narbonne-Plage
BEZIERS = (43.3442, 3.2158)  # the next town: not Narbonne's area
GOOD_SUBMIT: dict[str, Any] = {
    "type": "alert.submit", "ref": "good", "category": "noise",
    "lat": CENTRE[0], "lon": CENTRE[1], "text": "loud music",
}  # fmt: skip


class Raw(NamedTuple):
    """A frame sent as is (not encoded with the session's codec)."""

    frame: str | bytes


Frame = Raw | Any  # anything else is encoded with the session's codec
Case = tuple[str, Frame, str, str | None]  # (name, frame, error code, ref of the error)


@pytest.fixture
async def hub(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    """The per-session message rate off: these tests send many frames on purpose."""
    async with hub_factory(session_msg_rate=Rate(0, 1.0)) as running:
        yield running


@pytest.fixture
def r(redis_factory: RedisFactory) -> Redis:
    return redis_factory()


# What a hub writes on its own, whatever clients do: a liveness canary, the queue
# order in the tenant stream, and the locks of its periodic jobs.
HUB_OWN_ENTRIES = {b"canary", b"queue"}


async def stored(r: Redis) -> dict[bytes, Any]:
    """Every key of the database with its value (stream entries: those of clients' doing)."""
    out: dict[bytes, Any] = {}
    async for key in r.scan_iter(count=1000):
        if b":lock:" in key or key.endswith(b":canary"):
            continue
        if await r.type(key) == b"stream":
            entries = await r.xrange(key)
            out[key] = [e for e in entries if e[1].get(b"k") not in HUB_OWN_ENTRIES]
        else:
            out[key] = await r.dump(key)
    return out


async def events_stored(r: Redis) -> int:
    """Entries of Narbonne's event stream that clients caused."""
    return len((await stored(r)).get(b"vg:{narbonne}:events", []))


def submit(**changes: Any) -> dict[str, Any]:
    """An alert.submit (ref 'b') with some fields changed; a None value drops the field."""
    msg = {**GOOD_SUBMIT, "ref": "b", **changes}
    return {k: v for k, v in msg.items() if v is not None}


async def send(peer: Peer, frame: Frame) -> None:
    if isinstance(frame, Raw):
        await peer.send_raw(frame.frame)
    elif peer.codec == "msgpack":
        await peer.send_raw(msgpack.packb(frame, use_bin_type=True))
    else:
        await peer.send_raw(orjson.dumps(frame).decode())


async def answer(peer: Peer, frame: Frame, ref: str | None) -> dict[str, Any]:
    """Send a frame and return its answer: the reply with `ref`, else the next error."""
    await send(peer, frame)
    if ref is None:
        return await peer.expect("error")
    while True:
        reply = await peer.recv()
        if reply.get("ref") == ref and reply.get("type") != "incident":
            return reply


async def closed_with(peer: Peer, timeout: float = 3.0) -> int | None:
    """Read until the hub closes the socket; the close code it sent (None: no close frame)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            await peer.recv(max(0.01, deadline - loop.time()))
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


async def check_refused(
    peer: Peer, r: Redis, case: Case, good: Frame, good_ref: str
) -> dict[str, Any]:
    """The bad frame gets its error, nothing stored changes, the next good frame works."""
    name, frame, code, ref = case
    before = await stored(r)
    error = await answer(peer, frame, ref)
    assert error["type"] == "error", f"{name}: {error}"
    assert error["code"] == code, f"{name}: expected {code}, got {error}"
    assert error.get("ref") == ref, f"{name}: ref {error.get('ref')!r}, expected {ref!r}"
    assert isinstance(error["message"], str) and error["message"], name
    assert await stored(r) == before, f"{name}: stored state changed"
    reply = await answer(peer, good, good_ref)
    assert reply["type"] != "error", f"{name}: session broken afterwards: {reply}"
    return reply


# -- citizens ---------------------------------------------------------------------------

CITIZEN_CASES: list[Case] = [
    ("unknown type", {"type": "alert.explode", "ref": "b"}, "unknown_type", "b"),
    ("missing type", {"ref": "b", "category": "noise"}, "bad_request", "b"),
    ("type not a string", {"type": 7, "ref": "b"}, "bad_request", "b"),
    ("missing ref", submit(ref=None), "bad_request", None),
    ("empty ref", submit(ref=""), "bad_request", None),
    ("ref over 64 chars", submit(ref="r" * 65), "bad_request", None),
    ("ref not a string", submit(ref=12), "bad_request", None),
    ("missing category", submit(category=None), "bad_request", "b"),
    ("missing lat", submit(lat=None), "bad_request", "b"),
    ("missing lon", submit(lon=None), "bad_request", "b"),
    ("category not a string", submit(category=5), "bad_request", "b"),
    ("category over 64 chars", submit(category="n" * 65), "bad_request", "b"),
    ("lat as a string", submit(lat="43.18"), "bad_request", "b"),
    ("lat as a boolean", submit(lat=True), "bad_request", "b"),
    ("lon as a list", submit(lon=[3.0]), "bad_request", "b"),
    ("text not a string", submit(text=12), "bad_request", "b"),
    ("accuracy negative", submit(accuracy_m=-1), "bad_request", "b"),
    ("accuracy as a string", submit(accuracy_m="15"), "bad_request", "b"),
    ("lat above 90", submit(lat=90.5), "bad_request", "b"),
    ("lat below -90", submit(lat=-91), "bad_request", "b"),
    ("lon above 180", submit(lon=180.01), "bad_request", "b"),
    ("lon below -180", submit(lon=-200), "bad_request", "b"),
    ("in Paris", submit(lat=PARIS[0], lon=PARIS[1]), "out_of_area", "b"),
    ("at sea", submit(lat=SEA[0], lon=SEA[1]), "out_of_area", "b"),
    ("in Béziers", submit(lat=BEZIERS[0], lon=BEZIERS[1]), "out_of_area", "b"),
    ("at 0,0", submit(lat=0, lon=0), "out_of_area", "b"),
    ("unknown category", submit(category="alien"), "bad_request", "b"),
    ("category in the wrong case", submit(category="Noise"), "bad_request", "b"),
    ("text over 1000 chars", submit(text="é" * 1001), "too_large", "b"),
    ("sends a unit's cover", {"type": "cover", "ref": "b", "cells": []}, "forbidden", "b"),
    ("sends a unit position", {"type": "unit.position", "ref": "b", "lat": 43.18, "lon": 3.0},
     "forbidden", "b"),
    ("sends a console command", {"type": "dispatch.assign", "ref": "b", "incident": "in1",
     "unit": "u1"}, "forbidden", "b"),
    ("hello again", {"type": "hello", "ref": "b", "token": token("citizen", "c1")},
     "bad_request", "b"),
    ("a list", [GOOD_SUBMIT], "bad_request", None),
    ("a string", "alert.submit", "bad_request", None),
    ("a number", 42, "bad_request", None),
    ("null", None, "bad_request", None),
]  # fmt: skip

JSON_FRAMES: list[Case] = [
    ("truncated JSON", Raw('{"type": "alert.submit", "ref": "b",'), "bad_request", None),
    ("empty text frame", Raw(""), "bad_request", None),
    ("NaN literal", Raw('{"type":"alert.submit","ref":"b","category":"noise","lat":NaN,"lon":3}'),
     "bad_request", None),
    ("infinite number", Raw('{"type":"alert.submit","ref":"b","category":"noise","lat":1e999,'
     '"lon":3.0}'), "bad_request", None),
    ("nested 10000 deep", Raw("[" * 10_000 + "]" * 10_000), "bad_request", None),
    ("binary garbage", Raw(b"\x00\xff\xfe garbage"), "bad_request", None),
    ("JSON with trailing garbage", Raw(orjson.dumps(GOOD_SUBMIT).decode() + "}"),
     "bad_request", None),
]  # fmt: skip

MSGPACK_FRAMES: list[Case] = [
    ("reserved byte", Raw(b"\xc1"), "bad_request", None),
    ("truncated map", Raw(msgpack.packb(GOOD_SUBMIT)[:20]), "bad_request", None),
    ("two maps in a frame", Raw(msgpack.packb(GOOD_SUBMIT) * 2), "bad_request", None),
    ("integer map keys", Raw(msgpack.packb({1: "alert.submit"})), "bad_request", None),
    ("invalid UTF-8 string", Raw(b"\x81\xa4type\xa2\xff\xfe"), "bad_request", None),
    ("type as bytes", {"type": b"alert.submit", "ref": "b"},
     "bad_request", "b"),
    ("NaN lat", submit(lat=float("nan")), "bad_request", "b"),
    ("infinite lat", submit(lat=float("inf")), "bad_request", "b"),
    ("infinite lon", submit(lon=float("-inf")), "bad_request", "b"),
    ("NaN accuracy", submit(accuracy_m=float("nan")), "bad_request", "b"),
    ("nested 10000 deep", Raw(b"\x91" * 10_000 + b"\xc0"), "bad_request", None),
    ("malformed text frame", Raw("{not json"), "bad_request", None),
]  # fmt: skip


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_citizen_bad_messages(hub: RunningHub, r: Redis, codec: str) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1", codec=codec)
    ack = await citizen.request(GOOD_SUBMIT)
    assert ack["type"] == "alert.ack"
    extra = JSON_FRAMES if codec == "json" else MSGPACK_FRAMES
    for case in CITIZEN_CASES + extra:
        again = await check_refused(citizen, r, case, GOOD_SUBMIT, "good")
        assert again == ack, f"{case[0]}: the idempotent re-submit changed: {again}"
    assert await r.hlen("vg:{narbonne}:seq") == 2  # the one alert and its incident
    assert await events_stored(r) == 1
    await citizen.close()


async def test_text_frames_on_a_msgpack_session_are_json(hub: RunningHub) -> None:
    """The codec gives clients the benefit of the doubt: JSON text on msgpack is read."""
    citizen, _ = await connect(hub.ws_url, "citizen", "c1", codec="msgpack")
    await citizen.send_raw(orjson.dumps(GOOD_SUBMIT).decode())
    ack = await citizen.expect("alert.ack")  # answered in msgpack
    assert ack["ref"] == "good"
    await citizen.close()


async def test_text_at_the_limit_is_accepted(hub: RunningHub) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await citizen.request(submit(text="é" * 1000))
    assert ack["type"] == "alert.ack"
    await citizen.close()


# -- patrol units -----------------------------------------------------------------------

SECTOR = h3.latlng_to_cell(*CENTRE, 7)
FINER = h3.latlng_to_cell(*CENTRE, 10)  # finer than the hub's resolution 9
PARIS_SECTOR = h3.latlng_to_cell(*PARIS, 7)
MANY_CELLS = sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 26))[:2001]


def _spread_points(count: int) -> list[tuple[float, float]]:
    """Points in town whose cells are >= 3 rings apart: their alerts never group."""
    picked: list[str] = []
    for cell in sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 10)):
        if all(h3.grid_distance(cell, p) >= 3 for p in picked):
            picked.append(cell)
    return [h3.cell_to_latlng(c) for c in picked[:count]]


SPOTS = _spread_points(20)


def position(**changes: Any) -> dict[str, Any]:
    msg = {"type": "unit.position", "ref": "b", "lat": CENTRE[0], "lon": CENTRE[1], **changes}
    return {k: v for k, v in msg.items() if v is not None}


UNIT_CASES: list[Case] = [
    ("unknown type", {"type": "unit.teleport", "ref": "b"}, "unknown_type", "b"),
    ("position lat above 90", position(lat=95), "bad_request", "b"),
    ("position lon as a string", position(lon="3.0"), "bad_request", "b"),
    ("position without lat", position(lat=None), "bad_request", "b"),
    ("position at negative", position(at=-1), "bad_request", "b"),
    ("position at a string", position(at="now"), "bad_request", "b"),
    ("position at beyond 2^53", position(at=2**60), "bad_request", "b"),
    ("status unknown", {"type": "unit.status", "ref": "b", "status": "sleeping"},
     "bad_request", "b"),
    ("status missing", {"type": "unit.status", "ref": "b"}, "bad_request", "b"),
    ("status a number", {"type": "unit.status", "ref": "b", "status": 1}, "bad_request", "b"),
    ("cover cells not a list", {"type": "cover", "ref": "b", "cells": SECTOR},
     "bad_request", "b"),
    ("cover cells missing", {"type": "cover", "ref": "b"}, "bad_request", "b"),
    ("cover invalid cell", {"type": "cover", "ref": "b", "cells": ["zz"]}, "bad_request", "b"),
    ("cover cell a number", {"type": "cover", "ref": "b", "cells": [123]}, "bad_request", "b"),
    ("cover cell finer than the hub", {"type": "cover", "ref": "b", "cells": [FINER]},
     "bad_request", "b"),
    ("cover outside the town", {"type": "cover", "ref": "b", "cells": [PARIS_SECTOR]},
     "out_of_area", "b"),
    ("cover over 2000 cells", {"type": "cover", "ref": "b", "cells": MANY_CELLS},
     "too_large", "b"),
    ("sends an alert", submit(), "forbidden", "b"),
    ("sends citizen.follow", {"type": "citizen.follow", "ref": "b", "cells": []},
     "forbidden", "b"),
    ("sends a console command", {"type": "incident.update", "ref": "b", "incident": "in1",
     "priority": 1}, "forbidden", "b"),
    ("a list", [1, 2], "bad_request", None),
]  # fmt: skip


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_unit_bad_messages(hub: RunningHub, r: Redis, codec: str) -> None:
    unit, _ = await connect(hub.ws_url, "unit", "u1", codec=codec)
    await unit.expect("snapshot")
    assert (await unit.request({"type": "cover", "ref": "c", "cells": [SECTOR]}))["type"] == "ok"
    good = {"type": "unit.status", "ref": "good", "status": "available"}
    cases = UNIT_CASES
    if codec == "msgpack":
        cases = [*cases, ("position NaN", position(lat=float("nan")), "bad_request", "b"),
                 ("position infinite", position(lon=float("inf")), "bad_request", "b")]  # fmt: skip
    for case in cases:
        assert (await check_refused(unit, r, case, good, "good"))["type"] == "ok"
    # The sector survived every refused cover.
    assert orjson.loads(await r.hget("vg:{narbonne}:unit:u1", "sector") or b"[]") == [SECTOR]
    await unit.close()


async def test_unit_positions_outside_the_town_are_accepted(hub: RunningHub) -> None:
    unit, _ = await connect(hub.ws_url, "unit", "u1")
    await unit.expect("snapshot")
    reply = await unit.request(position(ref="p", lat=PARIS[0], lon=PARIS[1]))
    assert reply == {"type": "ok", "ref": "p"}
    await unit.close()


# -- consoles ---------------------------------------------------------------------------

CONSOLE_CASES: list[Case] = [
    ("sends an alert", submit(), "forbidden", "b"),
    ("sends a position", position(), "forbidden", "b"),
    ("sends a cover", {"type": "cover", "ref": "b", "cells": [SECTOR]}, "forbidden", "b"),
    ("unknown type", {"type": "incident.delete", "ref": "b"}, "unknown_type", "b"),
    ("assign without unit", {"type": "dispatch.assign", "ref": "b", "incident": "in1"},
     "bad_request", "b"),
    ("assign timeout too short", {"type": "dispatch.assign", "ref": "b", "incident": "in1",
     "unit": "u1", "timeout_s": 1}, "bad_request", "b"),
    ("update priority 7", {"type": "incident.update", "ref": "b", "incident": "in1",
     "priority": 7}, "bad_request", "b"),
    ("update priority 2.5", {"type": "incident.update", "ref": "b", "incident": "in1",
     "priority": 2.5}, "bad_request", "b"),
    ("update status open", {"type": "incident.update", "ref": "b", "incident": "in1",
     "status": "open"}, "bad_request", "b"),
    ("update with nothing", {"type": "incident.update", "ref": "b", "incident": "in1"},
     "bad_request", "b"),
    ("merge from nothing", {"type": "incident.merge", "ref": "b", "into": "in1", "from": []},
     "bad_request", "b"),
    ("notice without cells", {"type": "notice", "ref": "b", "cells": [], "text": "x"},
     "bad_request", "b"),
    ("notice severity panic", {"type": "notice", "ref": "b", "cells": [SECTOR], "text": "x",
     "severity": "panic"}, "bad_request", "b"),
    ("notice text over 1000", {"type": "notice", "ref": "b", "cells": [SECTOR],
     "text": "x" * 1001}, "too_large", "b"),
]  # fmt: skip


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_console_bad_messages(hub: RunningHub, r: Redis, codec: str) -> None:
    """Console commands are another issue; their validation and the role checks are here."""
    console, _ = await connect(hub.ws_url, "console", "op", codec=codec)
    await console.expect("snapshot")
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    for n, (name, frame, code, ref) in enumerate(CONSOLE_CASES):
        before = await stored(r)
        error = await answer(console, frame, ref)
        assert (error["type"], error["code"], error.get("ref")) == ("error", code, ref), name
        assert await stored(r) == before, f"{name}: stored state changed"
        # Still alive: it is pushed the next incident of its tenant.
        lat, lon = SPOTS[n]  # far apart: every alert opens its own incident
        ack = await citizen.request(submit(ref=f"a{n}", lat=lat, lon=lon))
        seen = await console.expect("incident")
        assert seen["incident"]["id"] == ack["incident"], name
        if n % 5 == 4:  # the citizen's alert rate limit is 5 per 10 minutes
            await citizen.close()
            citizen, _ = await connect(hub.ws_url, "citizen", f"c{n}")
    await console.close()
    await citizen.close()


# -- close codes ------------------------------------------------------------------------


async def test_first_frame_not_a_hello_closes_4400(hub: RunningHub, r: Redis) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    await citizen.request(GOOD_SUBMIT)
    before = await stored(r)
    firsts: list[tuple[str, Frame]] = [
        ("an alert before hello", GOOD_SUBMIT),
        ("garbage", Raw("{garbage")),
        ("a list", [{"type": "hello", "token": token("citizen", "c1")}]),
        ("an unknown type", {"type": "helo", "token": token("citizen", "c1")}),
        ("hello with a bad resume", {"type": "hello", "token": token("unit", "u1"),
                                     "resume": ["events", "0-0"]}),
    ]  # fmt: skip
    for name, frame in firsts:
        peer = await open_peer(hub.ws_url)
        await send(peer, frame)
        assert await closed_with(peer) == 4400, name
        assert not [m for m in peer.seen if m.get("type") == "welcome"], name
    assert await stored(r) == before
    await citizen.close()


async def test_hello_must_come_in_time(hub_factory: HubFactory) -> None:
    async with hub_factory(hello_timeout_s=0.5) as hub:
        loop = asyncio.get_running_loop()
        started = loop.time()  # before the handshake: the hub's clock starts at connection
        late = await open_peer(hub.ws_url)
        assert await closed_with(late) == 4400
        assert loop.time() - started >= 0.45
        punctual = await open_peer(hub.ws_url)
        await asyncio.sleep(0.25)
        await punctual.send({"type": "hello", "token": token("citizen", "c1")})
        await punctual.expect("welcome")
        await asyncio.sleep(0.5)  # past the hello deadline: the session lives on
        assert (await punctual.request(GOOD_SUBMIT))["type"] == "alert.ack"
        await punctual.close()


def _forged(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode({"exp": 4_000_000_000, **claims}, secret, algorithm=algorithm)


def _tampered() -> str:
    header, _, signature = token("citizen", "c1").split(".")
    payload = jwt.utils.base64url_encode(
        orjson.dumps({"sub": "c1", "role": "console", "tenant": "narbonne", "exp": 4_000_000_000})
    ).decode()
    return f"{header}.{payload}.{signature}"


BAD_TOKENS: list[tuple[str, Any]] = [
    ("expired", token("console", "op", ttl_s=-60)),
    ("signed with another secret", _forged({"sub": "op", "role": "console",
                                            "tenant": "narbonne"}, "another-secret-" * 3)),
    ("payload tampered, signature kept", _tampered()),
    ("unsigned (alg none)", _forged({"sub": "op", "role": "console", "tenant": "narbonne"},
                                    "", "none")),
    ("unknown tenant", token("console", "op", tenant="paris")),
    ("unknown role", _forged({"sub": "op", "role": "admin", "tenant": "narbonne"})),
    ("no tenant claim", _forged({"sub": "op", "role": "console"})),
    ("no exp claim", jwt.encode({"sub": "op", "role": "console", "tenant": "narbonne"}, SECRET)),
    ("sub not a string", _forged({"sub": 12, "role": "console", "tenant": "narbonne"})),
    ("not a JWT", "not-a-jwt"),
    ("empty", ""),
    ("missing", None),
    ("a number", 12345),
]  # fmt: skip


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_bad_tokens_close_4401(hub: RunningHub, r: Redis, codec: str) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    await citizen.request(GOOD_SUBMIT)
    before = await stored(r)
    for name, bad in BAD_TOKENS:
        peer = await open_peer(hub.ws_url, codec)
        hello: dict[str, Any] = {"type": "hello"}
        if bad is not None:
            hello["token"] = bad
        await peer.send(hello)
        assert await closed_with(peer) == 4401, name
        assert not peer.seen, f"{name}: {peer.seen}"
    assert await stored(r) == before
    assert len(hub.node.sessions) == 1  # only the citizen: no session was opened
    await citizen.close()


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_frame_over_64k_closes_1009(hub: RunningHub, r: Redis, codec: str) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1", codec=codec)
    ack = await citizen.request(GOOD_SUBMIT)

    def padded(size: int) -> str | bytes:
        msg = {**GOOD_SUBMIT, "ref": "big", "pad": ""}
        base = len(orjson.dumps(msg) if codec == "json" else msgpack.packb(msg))
        msg["pad"] = "p" * (size - base - (2 if codec == "msgpack" else 0))  # str16 header
        frame = orjson.dumps(msg).decode() if codec == "json" else msgpack.packb(msg)
        assert len(frame) == size
        return frame

    await citizen.send_raw(padded(65_536))  # at the limit: read (unknown fields are ignored)
    assert (await citizen.expect("alert.ack", ref="big"))["incident"] == ack["incident"]
    before = await stored(r)
    await citizen.send_raw(padded(65_537))
    assert await closed_with(citizen) == 1009
    assert await stored(r) == before
    again, _ = await connect(hub.ws_url, "citizen", "c1", codec=codec)
    assert await again.request(GOOD_SUBMIT) == ack
    await again.close()


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_flood_of_messages_is_limited_then_closed_4429(
    hub_factory: HubFactory, r: Redis, codec: str
) -> None:
    async with hub_factory(session_msg_rate=Rate(3, 1.0)) as hub:
        citizen, _ = await connect(hub.ws_url, "citizen", "c1", codec=codec)
        for n in range(30):
            await citizen.send({**GOOD_SUBMIT, "ref": f"f{n}"})
        assert await closed_with(citizen) == 4429
        acks = [m for m in citizen.seen if m["type"] == "alert.ack"]
        limited = [m for m in citizen.seen if m["type"] == "error"]
        assert [m["ref"] for m in acks] == ["f0", "f1", "f2"]  # the burst, then refusals
        assert limited and all(m["code"] == "rate_limited" for m in limited)
        assert all(m["retry_after_s"] >= 1 for m in limited)
        assert [m["ref"] for m in limited] == [f"f{n}" for n in range(3, 3 + len(limited))]
        # Refused messages stored nothing; what was acked is still there.
        assert int(await r.hget("vg:{narbonne}:seq", "alert") or 0) == 3
        for m in acks:
            assert await r.hget(f"vg:{{narbonne}}:alert:{m['alert']}", "status") == b"received"


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_flood_of_undecodable_frames_closes_4429(
    hub: RunningHub, r: Redis, codec: str
) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1", codec=codec)
    ack = await citizen.request(GOOD_SUBMIT)
    garbage = "{garbage" if codec == "json" else b"\xc1"
    before = await stored(r)
    for _ in range(19):  # one short of the flood: a good frame resets the count
        await citizen.send_raw(garbage)
    assert await citizen.request(GOOD_SUBMIT) == ack
    for _ in range(19):
        await citizen.send_raw(garbage)
    assert await citizen.request(GOOD_SUBMIT) == ack
    for _ in range(20):
        await citizen.send_raw(garbage)
    assert await closed_with(citizen) == 4429
    assert await stored(r) == before
    assert ack["type"] == "alert.ack"
