"""CAP 1.2 and Atom for notices, NENA EIDO for incidents, over real HTTP from a real hub."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import h3
import httpx
import pytest
from redis.asyncio import Redis

from clients import Console
from hub.config import Config
from hub.core.cap import CAP_NS
from hub.core.cap_feed import ATOM_NS
from hub.server import interop
from hub.server.runner import RunningHub
from hub.store.keys import TenantKeys
from hub.store.notices import NoticeStore
from tests.conftest import HubFactory
from tests.integration.test_lifecycle import CENTRE, NEAR, _report, _unit_covering
from tests.standards import cap_schema, eido_validator
from tests.wire import Peer, connect, token

C, A = f"{{{CAP_NS}}}", f"{{{ATOM_NS}}}"
CELLS = [h3.latlng_to_cell(*CENTRE, 9), h3.latlng_to_cell(*NEAR, 9)]
HOSTILE = "Rue fermée <script>alert(1)</script> & ]]><x/> \"quotes\" 'apos'\n2e ligne"
CONSOLE = {"Authorization": f"Bearer {token('console', 'op1')}"}
ELSEWHERE = {"Authorization": f"Bearer {token('console', 'op1', 'nowhere')}"}  # a town not served


async def _console(hub: RunningHub) -> Peer:
    console, _ = await connect(hub.ws_url, "console", "op1")
    await console.expect("snapshot")
    return console


async def _notice(console: Peer, ref: str, **fields: Any) -> dict[str, Any]:
    msg = {"type": "notice", "ref": ref, "cells": CELLS, "text": "Rue fermée", **fields}
    return await console.request(msg)


def _valid_cap(body: bytes) -> ET.Element:
    cap_schema().validate(body.decode("utf-8"))
    return ET.fromstring(body)


async def test_a_notice_is_a_public_cap_alert_and_an_atom_entry(hub: RunningHub) -> None:
    console = await _console(hub)
    first = await _notice(console, "n1", text=HOSTILE, severity="danger", expires_s=3600)
    second = await _notice(console, "n2", severity="info")
    assert first["type"] == second["type"] == "ok"
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        cap = await http.get(f"/api/v1/notices/{first['notice']}.cap.xml")  # no token
        assert cap.status_code == 200
        assert cap.headers["content-type"].startswith("application/cap+xml")
        alert = _valid_cap(cap.content)
        assert alert.findtext(f"{C}info/{C}description") == HOSTILE
        assert alert.findtext(f"{C}info/{C}severity") == "Severe"
        assert alert.findtext(f"{C}sender") == "vigie@narbonne.fr"
        assert alert.find(".//x") is None and alert.find(".//script") is None
        feed_response = await http.get("/api/v1/notices.atom")
        assert feed_response.status_code == 200
        assert feed_response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(feed_response.content)
    entries = feed.findall(f"{A}entry")
    url = f"{hub.http_url}/api/v1/notices/{{}}.cap.xml"
    assert [e.findtext(f"{A}id") for e in entries] == [
        url.format(second["notice"]),
        url.format(first["notice"]),
    ]
    link = entries[1].find(f"{A}link")
    assert link is not None and link.get("type") == "application/cap+xml"
    assert link.get("href") == url.format(first["notice"])
    assert entries[1].findtext(f"{C}expires") == alert.findtext(f"{C}info/{C}expires")
    assert "op1" not in feed_response.text and "op1" not in cap.text  # operators stay unnamed
    async with httpx.AsyncClient() as http:  # every linked CAP file is there and valid
        for entry in entries:
            _valid_cap((await http.get(entry.findtext(f"{A}id", ""))).content)
    await console.close()


async def test_notices_are_kept_until_they_expire_and_no_longer(
    hub: RunningHub, redis: Redis
) -> None:
    console = await _console(hub)
    short = await _notice(console, "s", expires_s=60)
    default = await _notice(console, "d")
    keys = TenantKeys("narbonne")
    assert 59_000 < await redis.pttl(keys.notice(short["notice"])) <= 60_000
    assert 86_399_000 < await redis.pttl(keys.notice(default["notice"])) <= 86_400_000
    assert 86_399_000 < await redis.pttl(keys.notices) <= 86_400_000  # the last expiry
    store = NoticeStore(redis)
    (kept,) = await store.current(keys, 0, 1)
    assert kept.id == default["notice"]  # newest first, bounded
    later = kept.at_ms + 61_000  # a minute on: the short one is no longer current
    assert [n.id for n in await store.current(keys, later, 10)] == [default["notice"]]
    await redis.delete(keys.notice(default["notice"]))  # what its expiry does
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        gone = await http.get(f"/api/v1/notices/{default['notice']}.cap.xml")
        assert gone.status_code == 404 and gone.json()["error"] == "not_found"
        feed = ET.fromstring((await http.get("/api/v1/notices.atom")).content)
    assert [e.findtext(f"{A}id", "").rsplit("/", 1)[1] for e in feed.findall(f"{A}entry")] == [
        f"{short['notice']}.cap.xml"
    ]
    await console.close()


async def test_a_resent_notice_is_stored_once(hub: RunningHub, redis: Redis) -> None:
    console = await _console(hub)
    first, again = await _notice(console, "same"), await _notice(console, "same")
    assert first == again
    assert await redis.zrange(TenantKeys("narbonne").notices, 0, -1) == [first["notice"].encode()]
    await console.close()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"text": "Rue\x00fermée"}, "bad_request"),
        ({"text": "bell\x07"}, "bad_request"),
        ({"text": "esc\x1b[31m"}, "bad_request"),
        ({"text": "x" * 1001}, "too_large"),
        ({"expires_s": 10}, "bad_request"),
        ({"expires_s": 10**12}, "bad_request"),
        ({"expires_s": "1h"}, "bad_request"),
    ],
)
async def test_bad_notices_are_refused_and_nothing_is_kept(
    hub: RunningHub, redis: Redis, fields: dict[str, Any], code: str
) -> None:
    console = await _console(hub)
    reply = await _notice(console, "bad", **fields)
    assert reply["type"] == "error" and reply["code"] == code
    assert await redis.exists(TenantKeys("narbonne").notices) == 0
    assert await redis.hget(TenantKeys("narbonne").seq, "notice") is None
    await console.close()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/notices/nt999.cap.xml", 404),
        ("/api/v1/notices/abc.cap.xml", 400),
        ("/api/v1/notices/nt1%27%3B.cap.xml", 400),
        ("/api/v1/notices/nt-1.cap.xml", 400),
        ("/api/v1/notices/" + "nt" + "9" * 4000 + ".cap.xml", 400),
        ("/api/v1/notices.atom?tenant=nowhere", 404),
        ("/api/v1/notices.atom?tenant=" + "t" * 65, 400),
        ("/api/v1/notices.atom?tenant=%3Cx%3E", 400),
    ],
)
async def test_bad_notice_addresses(hub: RunningHub, path: str, status: int) -> None:
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        response = await http.get(path)
    assert response.status_code == status
    assert response.json()["error"] in ("not_found", "bad_request")


async def test_a_hub_of_several_towns_needs_the_tenant(
    hub_factory: HubFactory, config: Config
) -> None:
    narbonne = config.tenants["narbonne"]
    two = replace(config, tenants={**config.tenants, "gruissan": replace(narbonne, id="gruissan")})
    async with hub_factory(two) as hub:
        console = await _console(hub)
        sent = await _notice(console, "n")
        async with httpx.AsyncClient(base_url=hub.http_url) as http:
            refused = await http.get("/api/v1/notices.atom")
            assert refused.status_code == 400 and "tenant" in refused.json()["message"]
            feed = await http.get("/api/v1/notices.atom?tenant=narbonne")
            other = await http.get("/api/v1/notices.atom?tenant=gruissan")
            cap = await http.get(f"/api/v1/notices/{sent['notice']}.cap.xml?tenant=gruissan")
            citizen, _ = await connect(hub.ws_url, "citizen", "c1")
            incident = (await _report(citizen, "r"))["incident"]
            theirs = {"Authorization": f"Bearer {token('console', 'op1', 'gruissan')}"}
            eido = await http.get(f"/api/v1/incidents/{incident}/eido", headers=theirs)
            assert eido.status_code == 404  # another town's console sees nothing of it
            await citizen.close()
        (entry,) = ET.fromstring(feed.content).findall(f"{A}entry")
        assert entry.findtext(f"{A}id", "").endswith(".cap.xml?tenant=narbonne")
        assert ET.fromstring(other.content).findall(f"{A}entry") == []  # towns stay apart
        assert cap.status_code == 404
        await console.close()


async def _dispatched_incident(hub: RunningHub) -> tuple[str, list[Peer]]:
    console = await _console(hub)
    unit = await _unit_covering(hub, "u1")
    alice, _ = await connect(hub.ws_url, "citizen", "alice")
    bob, _ = await connect(hub.ws_url, "citizen", "bob")
    first = await alice.request(
        {"type": "alert.submit", "ref": "a", "category": "violence", "lat": CENTRE[0],
         "lon": CENTRE[1], "text": "Bagarre <b>devant</b> le n° 3"}
    )  # fmt: skip
    await _report(bob, "b", at=NEAR)
    incident = first["incident"]
    update = {"type": "incident.update", "ref": "ack", "incident": incident,
              "status": "acknowledged", "note": "Appel reçu & transmis"}  # fmt: skip
    assert (await console.request(update))["type"] == "ok"
    offer = await console.request(
        {"type": "dispatch.assign", "ref": "as", "incident": incident, "unit": "u1"}
    )
    await unit.expect("assignment")
    accept = {"type": "assignment.accept", "ref": "acc", "assignment": offer["assignment"]}
    assert (await unit.request(accept))["type"] == "ok"
    await console.expect("incident", where=lambda m: m["incident"]["status"] == "dispatched")
    return incident, [console, unit, alice, bob]


async def test_an_incident_exports_as_a_valid_eido(hub: RunningHub) -> None:
    incident, peers = await _dispatched_incident(hub)
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        response = await http.get(f"/api/v1/incidents/{incident}/eido", headers=CONSOLE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert [e.message for e in eido_validator().iter_errors(doc)] == []
    assert doc["incidentComponent"]["internalIncidentId"] == incident
    assert doc["incidentComponent"]["incidentStatusInternalText"] == ["dispatched"]
    assert len(doc["callComponent"]) == 2  # alice's and bob's reports
    (resource,) = doc["emergencyResourceComponent"]
    assert resource["emergencyResourceName"] == "u1"
    assert resource["unitStatusInternal"] == ["en_route"]
    assert doc["dispatchComponent"][0]["emergencyResourceReference"] == [{"$ref": resource["$id"]}]
    comments = [n["notesActionComments"] for n in doc["notesComponent"]]
    assert "Bagarre &lt;b&gt;devant&lt;/b&gt; le n° 3" in comments
    assert any("Appel reçu &amp; transmis" in c for c in comments)
    for who in ("alice", "bob", "op1"):  # reporters and operators are not named
        assert who not in response.text
    assert "43.1839 3.0042" in doc["locationComponent"][0]["locationByValue"]
    for peer in peers:
        await peer.close()


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v1/incidents/in1/eido", {}, 401),
        ("/api/v1/incidents/in1/eido", {"Authorization": "Bearer forged.token.x"}, 401),
        ("/api/v1/incidents/in1/eido", {"Authorization": "Basic b3AxOng="}, 401),
        ("/api/v1/incidents/in1/eido", {"Authorization": f"Bearer {token('unit', 'u1')}"}, 403),
        ("/api/v1/incidents/in1/eido", {"Authorization": f"Bearer {token('citizen', 'c')}"}, 403),
        ("/api/v1/incidents/in1/eido", ELSEWHERE, 401),
        ("/api/v1/incidents/in999/eido", CONSOLE, 404),
        ("/api/v1/incidents/x1/eido", CONSOLE, 400),
        ("/api/v1/incidents/in1%20OR%201/eido", CONSOLE, 400),
        ("/api/v1/incidents/in" + "1" * 3000 + "/eido", CONSOLE, 400),
    ],
)  # fmt: skip
async def test_eido_is_for_consoles_of_the_town_only(
    hub: RunningHub, path: str, headers: dict[str, str], status: int
) -> None:
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    ack = await _report(citizen, "r", "noise")
    assert ack["incident"] == "in1"
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        response = await http.get(path, headers=headers)
    assert response.status_code == status
    assert response.json()["error"] in ("unauthorized", "forbidden", "not_found", "bad_request")
    assert "c1" not in response.text
    await citizen.close()


async def test_the_client_library_sets_a_notice_expiry(hub: RunningHub, redis: Redis) -> None:
    async with Console(hub.ws_url, token("console", "op1")) as console:
        ok = await console.notice(CELLS, "Marché déplacé", "info", expires_s=120)
    assert 119_000 < await redis.pttl(TenantKeys("narbonne").notice(ok["notice"])) <= 120_000


async def test_merged_incidents_name_each_other_in_their_eido(hub: RunningHub) -> None:
    console = await _console(hub)
    citizen, _ = await connect(hub.ws_url, "citizen", "c1")
    kept = (await _report(citizen, "a", "noise"))["incident"]
    dup = (await _report(citizen, "b", "theft", at=(43.16, 3.16)))["incident"]
    merge = {"type": "incident.merge", "ref": "m", "into": kept, "from": [dup]}
    assert (await console.request(merge))["type"] == "ok"
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        docs = [
            (await http.get(f"/api/v1/incidents/{i}/eido", headers=CONSOLE)).json()
            for i in (kept, dup)
        ]
    for doc in docs:
        assert [e.message for e in eido_validator().iter_errors(doc)] == []
    (replacing,) = docs[0]["mergeComponent"]
    (replaced,) = docs[1]["mergeComponent"]
    assert replacing["incidentMergeDirectionCode"] == "REPLACING"
    assert replacing["incidentTrackingIdentifier"] == docs[1]["$id"]
    assert replaced["incidentMergeDirectionCode"] == "REPLACED"
    assert replaced["incidentTrackingIdentifier"] == docs[0]["$id"]
    for peer in (console, citizen):
        await peer.close()


async def test_the_public_feed_is_rendered_once_per_period(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = await _console(hub)
    first = await _notice(console, "one")
    async with httpx.AsyncClient(base_url=hub.http_url) as http:
        before = (await http.get("/api/v1/notices.atom")).content
        await _notice(console, "two")
        assert (await http.get("/api/v1/notices.atom")).content == before  # reused
        monkeypatch.setattr(interop, "FEED_REUSE_S", 0.0)  # the period is over
        after = ET.fromstring((await http.get("/api/v1/notices.atom")).content)
    assert len(after.findall(f"{A}entry")) == 2
    assert first["notice"] in ET.tostring(after).decode()
    await console.close()
