"""shared/connection.js against a real hub in Chromium: resume, dedupe, close codes, requests."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute

from tests.browser.conftest import TokenMaker, WebHub
from tests.wire import Peer, connect

START = """async ({ token }) => {
  const { Connection } = await import('/static/shared/connection.js');
  window.got = [];
  window.statuses = [];
  window.conn = new Connection({
    token,
    onMessage: (m) => window.got.push(m),
    onStatus: (s, info) => window.statuses.push([s, info.code ?? null, info.auth ?? false]),
  });
  window.conn.start();
}"""


async def blank_page(browser: Browser, web_hub: WebHub) -> Page:
    """A page of the hub's origin that runs no connection of its own (the sign-in page).

    Served by the hub itself: Chromium's local-network checks refuse a WebSocket to
    127.0.0.1 from a document that Playwright made up (route.fulfill).
    """
    page = await browser.new_page()
    await page.goto(f"{web_hub.base_url}/signin?lang=en")
    return page


async def status(page: Page, wanted: str, timeout_ms: int = 10_000) -> None:
    await page.wait_for_function(f"() => window.conn.status === '{wanted}'", timeout=timeout_ms)


async def submit(citizen: Peer, ref: str, lat: float = 43.1839) -> dict[str, Any]:
    alert = {"type": "alert.submit", "ref": ref, "category": "noise", "lat": lat, "lon": 3.0042}
    return await citizen.request(alert)


async def incident_events(page: Page) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = await page.evaluate("window.got")
    return [m for m in got if m["type"] == "incident"]


async def test_console_resumes_after_the_hub_drops_it_without_duplicates(
    web_hub: WebHub, browser: Browser, token: TokenMaker
) -> None:
    page = await blank_page(browser, web_hub)
    await page.evaluate(START, {"token": token("console", "op-conn")})
    await status(page, "live")
    await page.wait_for_function("() => window.got.some((m) => m.type === 'snapshot')")
    citizen, _ = await connect(web_hub.ws_url, "citizen", "c-conn")
    await submit(citizen, "a1")
    await page.wait_for_function("() => window.got.some((m) => m.type === 'incident')")

    # The hub drops the console (as a restarting process would: 1012) and, while the
    # page waits to reconnect, another incident opens far away: resume must bring it.
    (session,) = [s for s in web_hub.running.node.sessions.values() if s.role == "console"]
    session.close(1012, "restart")
    await status(page, "reconnecting")
    await submit(citizen, "a2", lat=43.2300)
    await status(page, "live")
    await page.wait_for_function(
        "() => window.got.filter((m) => m.type === 'incident').map((m) => m.incident.id)"
        ".filter((v, i, all) => all.indexOf(v) === i).length >= 2"
    )
    await page.wait_for_timeout(300)  # room for any duplicate to arrive
    events = await incident_events(page)
    offsets = [m["offset"] for m in events]
    assert len(offsets) == len(set(offsets)), offsets  # dedupe by offset
    got = await page.evaluate("window.got")
    assert [m["type"] for m in got].count("snapshot") == 1  # resumed, not re-snapshotted
    statuses = await page.evaluate("window.statuses")
    assert ["reconnecting", 1012, False] in statuses
    assert statuses[-1][0] == "live"
    hello_resume = await page.evaluate("window.conn.offsets")
    assert hello_resume["events"] == offsets[-1]
    await citizen.close()


async def test_request_resolves_with_the_reply_of_its_ref(
    web_hub: WebHub, browser: Browser, token: TokenMaker
) -> None:
    page = await blank_page(browser, web_hub)
    await page.evaluate(START, {"token": token("citizen", "c-req")})
    await status(page, "live")
    reply = await page.evaluate(
        """() => window.conn.request({ type: 'alert.submit', category: 'noise',
                                       lat: 43.1839, lon: 3.0042, text: 'music' })"""
    )
    assert reply["type"] == "alert.ack" and reply["alert"]
    again = await page.evaluate(
        """(ref) => window.conn.request({ type: 'alert.submit', category: 'noise',
                                          lat: 43.1839, lon: 3.0042, text: 'music', ref })""",
        reply["ref"],
    )
    assert again["alert"] == reply["alert"]  # same ref: the same ack, stored once
    error = await page.evaluate(
        "() => window.conn.request({ type: 'alert.cancel', alert: 'nope' })"
    )
    assert error["type"] == "error" and error["code"] == "not_found"


@pytest.mark.parametrize(
    ("role", "ttl_s"),
    [("console", -60), ("console", 3600)],
    ids=["expired", "unknown-tenant"],
)
async def test_refused_token_closes_for_good_with_auth(
    web_hub: WebHub, browser: Browser, token: TokenMaker, role: str, ttl_s: int
) -> None:
    tenant = "narbonne" if ttl_s < 0 else "atlantis"
    page = await blank_page(browser, web_hub)
    await page.evaluate(START, {"token": token(role, "op-bad", tenant, ttl_s)})
    await status(page, "closed")
    await page.wait_for_timeout(1200)  # a reconnect would have started by now
    statuses = await page.evaluate("window.statuses")
    assert statuses[-1] == ["closed", 4401, True]
    assert "reconnecting" not in [s for s, *_ in statuses]


async def test_probe_reply_is_swallowed(
    web_hub: WebHub, browser: Browser, token: TokenMaker
) -> None:
    """The dead-link probe gets an `error` from the hub that the app never sees."""
    page = await blank_page(browser, web_hub)
    await page.evaluate(START, {"token": token("unit", "u-probe")})
    await status(page, "live")
    await page.evaluate(
        "window.conn._ws.send(JSON.stringify({ type: 'probe', ref: 'vigie-probe' }))"
    )
    await asyncio.sleep(0.5)
    got = await page.evaluate("window.got")
    assert not [m for m in got if m.get("ref") == "vigie-probe"]
    assert await page.evaluate("window.conn.status") == "live"


async def test_a_silent_link_is_probed_then_dropped_and_resumed(
    web_hub: WebHub, browser: Browser, token: TokenMaker
) -> None:
    """A link that stops delivering (no close, no error) is noticed within 2 x heartbeat_s.

    Playwright stands between the page and the hub: it shortens the heartbeat in
    `welcome` to 1 s, and for the first connection it stops passing the hub's
    messages once the page is live, like a network that silently drops packets.
    """
    links: list[dict[str, Any]] = []

    def route(ws: WebSocketRoute) -> None:
        link: dict[str, Any] = {"silent": False, "from_page": []}
        links.append(link)
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if link["silent"]:
                return
            if isinstance(message, str) and '"welcome"' in message:
                welcome = json.loads(message)
                message = json.dumps({**welcome, "heartbeat_s": 1})
            ws.send(message)

        def to_hub(message: str | bytes) -> None:
            link["from_page"].append(message)
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_hub)

    page = await blank_page(browser, web_hub)
    await page.route_web_socket(re.compile(r".*/ws$"), route)
    await page.evaluate(START, {"token": token("unit", "u-silent")})
    await status(page, "live")
    await page.wait_for_function("() => window.got.some((m) => m.type === 'snapshot')")
    before = await page.evaluate("window.conn.offsets")
    links[0]["silent"] = True
    await status(page, "reconnecting", timeout_ms=4000)
    await status(page, "live", timeout_ms=10_000)
    probes = [m for m in links[0]["from_page"] if isinstance(m, str) and "vigie-probe" in m]
    assert probes, links[0]["from_page"]
    assert len(links) == 2
    hello = json.loads(links[1]["from_page"][0])
    assert hello["type"] == "hello" and hello["resume"] == before  # resumed where it was
