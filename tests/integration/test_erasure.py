"""Right to erasure against a real hub and Redis: through the console API and
`vigie erase`. After it, nothing of the resident is left in Redis (every key's
name and content scanned for their id and texts); the incident still counts,
anonymised; the erasure log says who erased how much, and not what."""

from __future__ import annotations

from typing import Any

import h3
import httpx
import orjson
import pytest
from redis.asyncio import Redis

from hub.server.runner import RunningHub
from tests.conftest import HubFactory
from tests.integration.test_cli import run_vigie, vigie_env
from tests.integration.test_open311 import open311_config, spec_post
from tests.integration.test_open311 import post as open311_post
from tests.wire import SECRET, Peer, connect, token

CENTRE = (43.1839, 3.0042)
NEAR = (43.1843, 3.0047)  # same or neighbouring res-9 cell: groups with CENTRE
ALICE_TEXT = "Mme Martin du 12 rue Droite crie, son mari la frappe"
ALICE_WITHDRAWN = "Trois jeunes sur un scooter, l'un s'appelle Kevin"
BOB_TEXT = "Bruit de dispute au premier étage"


async def dump(redis: Redis) -> bytes:
    """Every key name and value of the database, as one blob to search."""
    parts: list[bytes] = []
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        parts.append(key)
        if kind == "string":
            parts.append(await redis.get(key) or b"")
        elif kind == "hash":
            parts += [b"%s=%s" % kv for kv in (await redis.hgetall(key)).items()]
        elif kind == "list":
            parts += await redis.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(await redis.smembers(key))
        elif kind == "zset":
            parts += await redis.zrange(key, 0, -1)
        elif kind == "stream":
            for _, fields in await redis.xrange(key):
                parts += [b"%s=%s" % kv for kv in fields.items()]
    return b"\n".join(parts)


def left_of(blob: bytes, *needles: str) -> list[str]:
    """The needles still found in the blob (JSON escapes non-ASCII: search both forms)."""
    escaped = [orjson.dumps(n).decode().strip('"') for n in needles]
    return [
        n for n, e in zip(needles, escaped, strict=True) if n.encode() in blob or e.encode() in blob
    ]


async def report(citizen: Peer, ref: str, category: str, at: tuple[float, float], text: str) -> Any:
    ack = await citizen.request(
        {"type": "alert.submit", "ref": ref, "category": category, "lat": at[0], "lon": at[1],
         "text": text}
    )  # fmt: skip
    assert ack["type"] == "alert.ack", ack
    return ack


async def ok(peer: Peer, **message: Any) -> dict[str, Any]:
    reply = await peer.request({"ref": f"r{len(peer.seen)}", **message})
    assert reply["type"] == "ok", reply
    return reply


async def town_evening(hub: RunningHub, resident: str) -> dict[str, Any]:
    """`resident` reports first (the incident's point and first text are theirs), then
    withdraws a second alert; bob corroborates; a unit is offered the incident; closed."""
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    unit, _ = await connect(hub.ws_url, "unit", "u1")
    await unit.expect("snapshot")
    await ok(unit, type="cover", cells=[h3.latlng_to_cell(*CENTRE, 7)])
    resident_peer, _ = await connect(hub.ws_url, "citizen", resident)
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    first = await report(resident_peer, "a1", "violence", CENTRE, ALICE_TEXT)
    withdrawn = await report(resident_peer, "a2", "rodeo", CENTRE, ALICE_WITHDRAWN)
    await ok(resident_peer, type="alert.cancel", alert=withdrawn["alert"])
    await report(bob, "b1", "violence", NEAR, BOB_TEXT)
    incident = first["incident"]
    await ok(console, type="dispatch.assign", incident=incident, unit="u1")
    await unit.expect("assignment")
    await ok(console, type="incident.update", incident=incident, status="closed", note="vu")
    await resident_peer.expect("alert.status", status="resolved")
    for peer in (console, unit, resident_peer, bob):
        await peer.close()
    return {"incident": incident, "withdrawn": withdrawn["incident"]}


async def erase_api(hub: RunningHub, citizen: str, bearer: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {bearer}"} if bearer is not None else {}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{hub.http_url}/api/v1/citizens/{citizen}/erase", headers=headers)


async def test_erasure_through_the_api_leaves_nothing_of_the_resident(
    hub: RunningHub, redis: Redis
) -> None:
    seen = await town_evening(hub, "alice")
    before = await dump(redis)
    assert left_of(before, "alice", ALICE_TEXT, ALICE_WITHDRAWN) == [
        "alice", ALICE_TEXT, ALICE_WITHDRAWN,
    ]  # fmt: skip
    answer = await erase_api(hub, "alice", token("console", "dpo-clerk"))
    assert answer.status_code == 200, answer.text
    erased = answer.json()["erased"]
    assert erased["alerts"] == 2 and erased["by"] == "dpo-clerk"
    assert set(erased["incidents"]) == {seen["incident"], seen["withdrawn"]}

    after = await dump(redis)
    assert left_of(after, "alice", ALICE_TEXT, ALICE_WITHDRAWN) == []
    alice_point = repr(CENTRE[0]).encode()
    assert alice_point not in after  # her point, in no record and no stream entry
    assert left_of(after, BOB_TEXT) == [BOB_TEXT]  # bob's report is his, and stays

    # The incident still counts, located by bob's report now.
    stored = await redis.hgetall(f"vg:{{narbonne}}:inc:{seen['incident']}")
    incident = {k.decode(): v.decode() for k, v in stored.items()}
    assert (incident["reports"], incident["reporters"], incident["category"]) == (
        "2",
        "2",
        "violence",
    )
    assert incident["status"] == "closed" and incident["text"] == BOB_TEXT
    assert (float(incident["lat"]), float(incident["lon"])) == NEAR
    assert await redis.scard(f"vg:{{narbonne}}:inc:{seen['incident']}:reporters") == 2

    # Who erased what and when, without what.
    ((_, fields),) = await redis.xrange("vg:{narbonne}:erasures")
    entry = orjson.loads(fields[b"d"])
    assert entry["by"] == "dpo-clerk" and entry["alerts"] == 2 and entry["at"] > 0
    history = await console_history(hub, seen["incident"])
    erasure = [e for e in history if e["action"] == "erasure"]
    assert erasure and erasure[0]["by"] == "dpo-clerk" and erasure[0]["reports"] == 1

    again = await erase_api(hub, "alice", token("console", "dpo-clerk"))
    assert again.status_code == 200 and again.json()["erased"]["alerts"] == 0  # idempotent
    assert len(await redis.xrange("vg:{narbonne}:erasures")) == 2


async def console_history(hub: RunningHub, incident: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{hub.http_url}/api/v1/incidents/{incident}",
            headers={"authorization": f"Bearer {token('console', 'op1')}"},
        )
    assert answer.status_code == 200
    history: list[dict[str, Any]] = answer.json()["history"]
    return history


@pytest.mark.parametrize(
    ("citizen", "bearer", "status"),
    [
        ("alice", None, 401),  # no token
        ("alice", "not-a-jwt", 401),
        ("alice", token("citizen", "alice"), 403),  # a resident cannot erase, even themselves
        ("alice", token("unit", "u1"), 403),
        ("x" * 65, token("console", "op1"), 400),  # longer than a token's sub can be
        ("al%01ce", token("console", "op1"), 400),  # a control character
        ("nobody-ever", token("console", "op1"), 200),  # never seen: same as already erased
    ],
    ids=["no-token", "bad-token", "citizen", "unit", "oversized", "control-char", "unknown"],
)
async def test_erasure_api_refusals_change_nothing(
    hub: RunningHub, redis: Redis, citizen: str, bearer: str | None, status: int
) -> None:
    resident, _ = await connect(hub.ws_url, "citizen", "alice")
    await report(resident, "a1", "noise", CENTRE, ALICE_TEXT)
    await resident.close()
    answer = await erase_api(hub, citizen, bearer)
    assert answer.status_code == status, answer.text
    if status != 200:
        assert answer.json()["error"] in ("unauthorized", "forbidden", "bad_request")
        assert await redis.xlen("vg:{narbonne}:erasures") == 0
    else:
        assert answer.json()["erased"]["alerts"] == 0
    assert left_of(await dump(redis), "alice", ALICE_TEXT) == ["alice", ALICE_TEXT]  # kept


async def test_vigie_erase_anonymises_an_incident_it_alone_reported(
    hub: RunningHub, redis_url: str, redis: Redis
) -> None:
    carol, _ = await connect(hub.ws_url, "citizen", "carol")
    ack = await report(carol, "c1", "theft", CENTRE, "Le fils des voisins a volé mon vélo")
    await carol.close()
    env = vigie_env(VIGIE_REDIS_URL=redis_url)
    code, out, err = await run_vigie("erase", "--citizen", "carol", "--by", "dpo", env=env)
    assert code == 0, err
    erased = orjson.loads(out)
    assert (erased["alerts"], erased["by"], erased["incidents"]) == (1, "dpo", [ack["incident"]])

    assert left_of(await dump(redis), "carol", "vélo") == []
    incident = await redis.hgetall(f"vg:{{narbonne}}:inc:{ack['incident']}")
    assert incident[b"text"] == b"" and incident[b"reports"] == b"1"
    coarse = h3.latlng_to_cell(*CENTRE, 7)  # the public resolution
    assert (float(incident[b"lat"]), float(incident[b"lon"])) == pytest.approx(
        h3.cell_to_latlng(coarse), abs=1e-6
    )
    assert h3.cell_to_parent(incident[b"cell"].decode(), 7) == coarse
    assert incident[b"cell"].decode() == h3.cell_to_center_child(coarse, 9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--citizen", ""], "non-empty"),
        (["--citizen", "x" * 65], "longer than 64"),
        (["--citizen", "a\tb"], "control characters"),
        (["--citizen", "alice", "--tenant", "atlantis"], "not served"),
    ],
)
async def test_vigie_erase_refuses_bad_input(
    hub: RunningHub, redis_url: str, redis: Redis, args: list[str], message: str
) -> None:
    code, _, err = await run_vigie("erase", *args, env=vigie_env(VIGIE_REDIS_URL=redis_url))
    assert code == 2 and message in err, err
    assert await redis.xlen("vg:{narbonne}:erasures") == 0


async def test_vigie_erase_needs_a_redis_url() -> None:
    code, _, err = await run_vigie("erase", "--citizen", "alice", env=vigie_env())
    assert code == 2 and "VIGIE_REDIS_URL" in err


async def test_erasure_follows_a_merge_into_both_incidents(hub: RunningHub, redis: Redis) -> None:
    """A merge leaves its source naming the resident and listing the alert that moved
    on: both incidents are anonymised, and the target still counts the resident."""
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    source = (await report(alice, "a1", "theft", CENTRE, ALICE_TEXT))["incident"]
    target = (await report(bob, "b1", "violence", NEAR, BOB_TEXT))["incident"]
    await ok(console, type="incident.merge", into=target, **{"from": [source]})
    for peer in (console, alice, bob):
        await peer.close()
    answer = await erase_api(hub, "alice", token("console", "op1"))
    assert answer.status_code == 200
    assert set(answer.json()["erased"]["incidents"]) == {source, target}

    assert left_of(await dump(redis), "alice", ALICE_TEXT) == []
    assert repr(CENTRE[0]).encode() not in await dump(redis)
    merged = await redis.hgetall(f"vg:{{narbonne}}:inc:{source}")
    assert merged[b"status"] == b"merged" and merged[b"text"] == b""
    assert h3.cell_to_parent(merged[b"cell"].decode(), 7) == h3.latlng_to_cell(*CENTRE, 7)
    joined = await redis.hgetall(f"vg:{{narbonne}}:inc:{target}")
    assert (joined[b"reports"], joined[b"reporters"], joined[b"text"]) == (
        b"2",
        b"2",
        BOB_TEXT.encode(),
    )
    assert await redis.scard(f"vg:{{narbonne}}:inc:{target}:reporters") == 2  # bob + a placeholder
    assert await redis.lrange(f"vg:{{narbonne}}:inc:{target}:alerts", 0, -1) == [b"al2"]


async def test_vigie_erase_of_an_open311_reporter(
    hub_factory: HubFactory, redis_url: str, redis: Redis
) -> None:
    """The town knows what the resident gave the partner (device, account, email); the
    hub knows only keyed pseudonyms of it: `--open311` computes them."""
    async with (
        hub_factory(open311_config()) as o311,
        httpx.AsyncClient(base_url=f"{o311.http_url}/open311/v2") as http,
    ):
        posted = await open311_post(http, spec_post())
        assert posted.status_code == 200, posted.text
        request_id = posted.json()[0]["service_request_id"]
        env = vigie_env(VIGIE_REDIS_URL=redis_url, VIGIE_SECRET=SECRET)
        code, out, err = await run_vigie(
            "erase", "--open311", "fixmystreet", "--device-id", "tt222111",
            "--email", "Smit333@sfgov.edu", "--by", "dpo", env=env,
        )  # fmt: skip
        assert code == 0, err
        reports = [orjson.loads(line) for line in out.splitlines()]
        assert [r["alerts"] for r in reports] == [1, 0]  # the device's pseudonym, the email's
        assert left_of(await dump(redis), "sinkhole", "flickr", "open311:fixmystreet:d") == []
        assert await redis.zcard("vg:{narbonne}:open311") == 0
        assert (await http.get(f"/requests/{request_id}.json")).status_code == 404


async def test_vigie_erase_open311_needs_the_secret_and_an_identifier(redis_url: str) -> None:
    env = vigie_env(VIGIE_REDIS_URL=redis_url)
    code, _, err = await run_vigie("erase", "--open311", "fixmystreet", "--email", "a@b", env=env)
    assert code == 2 and "VIGIE_SECRET" in err
    env["VIGIE_SECRET"] = SECRET
    code, _, err = await run_vigie("erase", "--open311", "fixmystreet", env=env)
    assert code == 2 and "--device-id" in err


async def test_vigie_erase_open311_needs_a_partner_of_the_town(redis_url: str) -> None:
    env = vigie_env(VIGIE_REDIS_URL=redis_url, VIGIE_SECRET=SECRET)
    code, _, err = await run_vigie("erase", "--open311", "nextdoor", "--email", "a@b", env=env)
    assert code == 2 and "not a partner of narbonne" in err
