"""The citizen app (/app) in Chromium against a real hub and Redis: report and ack,
the timeline driven by a console and a unit over raw WebSockets, cancel, the
offline outbox (kept across a reload, stored once), notices by area, the service
worker's offline shell, untrusted text, accessibility."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
from playwright.async_api import Browser, BrowserContext, Page, expect
from redis.asyncio import Redis

from hub.core.tokens import issue_token
from hub.store.keys import TenantKeys
from tests.browser.conftest import ROOT, WebHub
from tests.wire import Peer, connect

SW = ROOT / "hub" / "web" / "static" / "app" / "sw.js"
CENTRE = (43.1839, 3.0042)  # Narbonne, cathedral
PERPIGNAN = (42.6887, 2.8948)  # another town
NORTH = (43.2050, 3.0100)  # 2.3 km away, still in town
PHONE = {"width": 390, "height": 844}
CLOCK = re.compile(r"^\d\d:\d\d$")
XSS = ("<img src=x onerror=alert(1)>", "<script>alert(1)</script>")

OpenApp = Callable[..., Awaitable[Page]]


async def phone(browser: Browser, at: tuple[float, float] | None = CENTRE) -> BrowserContext:
    """A phone's browser context, its location granted at `at` (None: refused)."""
    if at is None:
        return await browser.new_context(viewport=PHONE)
    return await browser.new_context(
        viewport=PHONE,
        geolocation={"latitude": at[0], "longitude": at[1], "accuracy": 15},
        permissions=["geolocation"],
    )


async def open_citizen(
    open_app: OpenApp, browser: Browser, sub: str, *, at: tuple[float, float] | None = CENTRE,
    lang: str = "en", context: BrowserContext | None = None,
) -> Page:  # fmt: skip
    page = await open_app(
        "app", "citizen", sub, lang=lang, context=context or await phone(browser, at)
    )
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    return page


async def report(page: Page, category: str = "Noise", text: str = "") -> None:
    await page.get_by_role("button", name=category, exact=True).click()
    if text:
        await page.get_by_label("Details (optional)").fill(text)
    await page.get_by_role("button", name="Send", exact=True).click()


def no_errors(page: Page) -> None:
    """Nothing went wrong in the page: no console error, no uncaught exception."""
    assert page.vigie_errors == []  # type: ignore[attr-defined]


def my_alert(page: Page, n: int = 0) -> Any:
    return page.locator("#mine > li.alert").nth(n)


async def alert_id(page: Page, n: int = 0) -> str:
    ref = await my_alert(page, n).get_attribute("data-ref")
    found: str = await page.evaluate(
        "ref => window.vigieApp.state.alerts.find((a) => a.ref === ref).alert", ref
    )
    return found


async def stored_alerts(web_hub: WebHub, citizen: str) -> list[dict[str, str]]:
    """Every alert hash of this citizen in Redis."""
    async with Redis.from_url(web_hub.redis_url, decode_responses=True) as redis:
        out = []
        async for key in redis.scan_iter(match=TenantKeys("narbonne").alert("*")):
            alert = await redis.hgetall(key)
            if alert.get("citizen") == citizen:
                out.append(alert)
        return out


async def console_peer(web_hub: WebHub) -> Peer:
    console, _ = await connect(web_hub.ws_url, "console", "op-1")
    await console.expect("snapshot")
    return console


async def unit_peer(web_hub: WebHub, sub: str = "u-1") -> Peer:
    unit, _ = await connect(web_hub.ws_url, "unit", sub)
    await unit.expect("snapshot")
    cover = {"type": "cover", "ref": "cv", "cells": [h3.latlng_to_cell(*CENTRE, 7)]}
    assert (await unit.request(cover))["type"] == "ok"
    return unit


async def ok(peer: Peer, message: dict[str, Any]) -> dict[str, Any]:
    reply = await peer.request(message)
    assert reply["type"] == "ok", reply
    return reply


# -- report, ack, timeline -----------------------------------------------------------


async def test_send_shows_received_within_a_second(open_app: OpenApp, browser: Browser) -> None:
    page = await open_citizen(open_app, browser, "alice")
    await page.get_by_role("button", name="Noise", exact=True).click()
    assert (
        await page.get_by_role("button", name="Noise", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    # From the press of Send to "received" on screen: stored in IndexedDB, sent, acked, drawn.
    delay_ms = await page.evaluate("""() => new Promise((resolve) => {
      const t0 = performance.now();
      const list = document.querySelector('#mine');
      const seen = () => list.querySelector('.alert[data-status="received"]');
      const obs = new MutationObserver(() => {
        if (seen()) { obs.disconnect(); resolve(performance.now() - t0); }
      });
      obs.observe(list, { subtree: true, childList: true, attributes: true });
      document.querySelector('#send').click();
    })""")
    print(f"\ncitizen app: Send -> 'received' shown in {delay_ms:.1f} ms")
    assert delay_ms < 1000
    await expect(my_alert(page).locator(".alert-status")).to_have_text("Received")
    await expect(my_alert(page).locator(".step.reached")).to_have_count(1)
    no_errors(page)


async def test_timeline_follows_the_operator_and_the_patrol(
    open_app: OpenApp, browser: Browser, web_hub: WebHub, artifacts: Path
) -> None:
    console = await console_peer(web_hub)
    unit = await unit_peer(web_hub)
    page = await open_citizen(open_app, browser, "bob")
    await report(page, "Violence")
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    incident = (await console.expect("incident"))["incident"]["id"]
    row = my_alert(page)

    await ok(
        console,
        {"type": "incident.update", "ref": "a1", "incident": incident, "status": "acknowledged"},
    )
    await expect(row).to_have_attribute("data-status", "acknowledged")
    assign = {"type": "dispatch.assign", "ref": "d1", "incident": incident, "unit": "u-1"}
    await ok(console, assign)
    offer = await unit.expect("assignment")
    await ok(unit, {"type": "assignment.accept", "ref": "u1", "assignment": offer["assignment"]})
    await expect(row).to_have_attribute("data-status", "dispatched")
    await expect(row.get_by_role("button", name="Cancel")).to_have_count(0)  # a patrol is on it
    for status, ref in (("on_scene", "u2"), ("resolved", "u3")):
        await ok(
            unit, {"type": "incident.status", "ref": ref, "incident": incident, "status": status}
        )
    await expect(row).to_have_attribute("data-status", "resolved")
    steps = row.locator(".step.reached")
    await expect(steps.locator(".step-label")).to_have_text(
        ["Received", "Acknowledged", "Patrol dispatched", "Patrol on scene", "Resolved"]
    )
    for n in range(5):
        await expect(steps.nth(n).locator("time")).to_have_text(CLOCK)
    await page.screenshot(path=str(artifacts / "app-timeline.png"), full_page=True)

    await page.reload()  # the timeline is kept (IndexedDB) and not replayed twice
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    await expect(my_alert(page).locator(".step.reached")).to_have_count(5)
    await expect(page.locator("#mine > li")).to_have_count(1)
    no_errors(page)
    for peer in (console, unit):
        await peer.close()


async def test_cancel_while_nobody_works_on_it(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    page = await open_citizen(open_app, browser, "carol")
    await report(page, "Noise")
    row = my_alert(page)
    # Acked first: a tap while the report is being sent is not a withdrawal (main.js
    # `cancel`), and on a slow machine the tap could come before the ack.
    await expect(row).to_have_attribute("data-status", "received")
    await row.get_by_role("button", name="Cancel").click()
    await expect(row).to_have_attribute("data-status", "cancelled")
    await expect(row.get_by_role("button", name="Cancel")).to_have_count(0)
    assert [a["status"] for a in await stored_alerts(web_hub, "carol")] == ["cancelled"]


async def test_cancel_tapped_while_the_report_is_being_sent_withdraws_it_once_acked(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    """The tap comes while the hub stores the report: the hub holds it, so the app
    withdraws it there once the ack comes, not only on the phone."""
    context = await phone(browser)
    held: list[Any] = []
    gate = {"open": False}
    sockets: list[Any] = []

    def hold_acks(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)

        def from_server(m: Any) -> None:
            if '"alert.ack"' in str(m) and not gate["open"]:
                held.append(m)
            else:
                ws.send(m)

        server.on_message(from_server)
        sockets.append(ws)

    await context.route_web_socket("**/ws", hold_acks)
    page = await open_citizen(open_app, browser, "erin", context=context)
    await report(page, "Noise")
    row = my_alert(page)
    for _ in range(200):  # stored at the hub, its ack held back
        if held:
            break
        await asyncio.sleep(0.05)
    assert held, "the hub acked the report"
    await expect(row).to_have_attribute("data-status", "waiting")
    await row.get_by_role("button", name="Cancel").click()
    gate["open"] = True
    for m in held:
        sockets[-1].send(m)
    await expect(row).to_have_attribute("data-status", "cancelled")
    assert [a["status"] for a in await stored_alerts(web_hub, "erin")] == ["cancelled"]


async def test_cancel_refused_by_the_hub_shows_why(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    """The operator rejected it, but the page has not heard yet: the hub says conflict."""
    context = await phone(browser)
    held: list[str] = []

    def hold_statuses(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda m: held.append(m) if '"alert.status"' in str(m) else ws.send(m))

    await context.route_web_socket("**/ws", hold_statuses)
    page = await open_citizen(open_app, browser, "dave", context=context)
    console = await console_peer(web_hub)
    await report(page, "Noise")
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    incident = (await console.expect("incident"))["incident"]["id"]
    await ok(
        console, {"type": "incident.update", "ref": "r", "incident": incident, "status": "rejected"}
    )
    await my_alert(page).get_by_role("button", name="Cancel").click()
    await expect(my_alert(page).get_by_role("alert")).to_have_text(
        "Cannot cancel: the report has already been dealt with."
    )
    assert held, "the rejection was held back from the page"
    await console.close()


# -- offline: kept, survives a reload, stored once -----------------------------------


class Link:
    """The page's WebSocket through Playwright: `up` forwards to the hub, else refused."""

    def __init__(self) -> None:
        self.up = True
        self.drop_acks = False
        self.ack_dropped = asyncio.Event()
        self.sockets: list[tuple[Any, Any]] = []

    async def route(self, ws: Any) -> None:
        if not self.up:
            await ws.close(code=1001, reason="network down (test)")
            return
        server = ws.connect_to_server()
        self.sockets.append((ws, server))

        async def to_page(message: str | bytes) -> None:
            if self.drop_acks and '"alert.ack"' in str(message):
                # The hub stored it and answered; the page never hears.
                self.ack_dropped.set()
                await self.close(ws, server, "ack lost (test)")
                return
            ws.send(message)

        ws.on_message(server.send)
        server.on_message(to_page)

    async def close(self, ws: Any, server: Any, reason: str) -> None:
        await ws.close(code=1001, reason=reason)
        await server.close(code=1001, reason=reason)

    async def cut(self) -> None:
        self.up = False
        for ws, server in self.sockets:
            await self.close(ws, server, "network down (test)")
        self.sockets.clear()


async def test_offline_report_survives_a_reload_and_is_stored_once(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    context = await phone(browser)
    link = Link()
    await context.route_web_socket("**/ws", link.route)
    page = await open_citizen(open_app, browser, "erin", context=context)
    await link.cut()
    await expect(page.locator("#connection")).not_to_have_attribute("data-status", "live")
    await report(page, "Theft", "bike taken")
    row = my_alert(page)
    await expect(row).to_have_attribute("data-status", "waiting")
    await expect(page.locator("#report-message")).to_contain_text("No connection")
    ref = await row.get_attribute("data-ref")
    await report(page, "Noise")  # a second one, taken back before it left the phone
    await expect(page.locator("#mine > li")).to_have_count(2)
    await my_alert(page, 0).get_by_role("button", name="Cancel").click()
    await expect(page.locator("#mine > li")).to_have_count(1)

    await page.reload()
    await expect(my_alert(page)).to_have_attribute("data-status", "waiting")
    assert await my_alert(page).get_attribute("data-ref") == ref
    assert await stored_alerts(web_hub, "erin") == []

    link.up = True  # the network is back: the next reconnect attempt gets through
    await expect(my_alert(page)).to_have_attribute("data-status", "received", timeout=8000)
    await page.reload()
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    stored = await stored_alerts(web_hub, "erin")
    assert [(a["ref"], a["text"]) for a in stored] == [(ref, "bike taken")]
    await expect(page.locator("#mine > li")).to_have_count(1)


async def test_a_lost_ack_is_resent_with_the_same_ref_and_stored_once(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    context = await phone(browser)
    link = Link()
    await context.route_web_socket("**/ws", link.route)
    page = await open_citizen(open_app, browser, "frank", context=context)
    link.drop_acks = True
    await report(page, "Vandalism")
    await asyncio.wait_for(link.ack_dropped.wait(), 5)
    await expect(my_alert(page)).to_have_attribute("data-status", "waiting")
    first = await stored_alerts(web_hub, "frank")
    assert len(first) == 1  # the hub has it; the page did not hear

    await page.reload()  # and it still has it waiting: sent again, same ref
    link.drop_acks = False
    await expect(my_alert(page)).to_have_attribute("data-status", "received", timeout=8000)
    again = await stored_alerts(web_hub, "frank")
    assert [a["id"] for a in again] == [first[0]["id"]]
    assert await alert_id(page) == first[0]["id"]


async def test_a_report_kept_by_one_tab_survives_the_other_tabs_writes(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    """Both tabs write the whole state; the waiting report has its own record as well."""
    context = await phone(browser)
    link = Link()
    await context.route_web_socket("**/ws", link.route)
    first = await open_citizen(open_app, browser, "paul", context=context)
    second = await open_citizen(open_app, browser, "paul", context=context)
    await link.cut()
    await report(first, "Theft", "from the first tab")
    await expect(my_alert(first)).to_have_attribute("data-status", "waiting")
    await report(second, "Noise", "from the second tab")  # its state knows nothing of the first's
    await expect(my_alert(second)).to_have_attribute("data-status", "waiting")
    await first.close()

    await second.reload()  # what is on disk now: the second tab's state, and both reports
    await expect(second.locator("#mine > li.alert[data-status=waiting]")).to_have_count(2)
    link.up = True
    await expect(second.locator("#mine > li.alert[data-status=received]")).to_have_count(
        2, timeout=8000
    )
    texts = sorted(a["text"] for a in await stored_alerts(web_hub, "paul"))
    assert texts == ["from the first tab", "from the second tab"]


async def test_a_refused_token_sends_the_resident_to_sign_in_again(
    open_app: OpenApp, browser: Browser
) -> None:
    forged = issue_token("not-the-hub-secret-0123456789abcdef", sub="sam", role="citizen",
                         tenant="narbonne", ttl_s=3600)  # fmt: skip
    page = await open_app("app", token=forged, context=await phone(browser))
    await page.wait_for_url(re.compile(r"/signin\?role=citizen&next=%2Fapp"))


# -- notices -------------------------------------------------------------------------


async def test_a_notice_reaches_its_area_only_and_shows_as_text(
    open_app: OpenApp, browser: Browser, web_hub: WebHub, artifacts: Path
) -> None:
    inside = await open_citizen(open_app, browser, "gina", at=CENTRE)
    outside = await open_citizen(open_app, browser, "hugo", at=NORTH)
    for page in (inside, outside):  # each told the hub which cells it is in
        await page.wait_for_function("() => window.vigieApp && window.vigieApp.followed.length > 0")
    console = await console_peer(web_hub)
    text = f"Water cut on rue Droite until 18:00 {XSS[0]} {XSS[1]}"
    notice = {
        "type": "notice",
        "ref": "n1",
        "cells": [h3.latlng_to_cell(*CENTRE, 9)],
        "text": text,
        "severity": "warning",
    }
    await ok(console, notice)
    banner = inside.locator("#notices .notice")
    await expect(banner.locator(".notice-text")).to_have_text(text)
    await expect(banner).to_contain_text("Warning")
    assert await inside.locator("#notices img, #notices script").count() == 0
    await inside.screenshot(path=str(artifacts / "app-notice.png"))
    await outside.wait_for_timeout(300)
    assert await outside.locator("#notices .notice").count() == 0
    no_errors(inside)
    no_errors(outside)
    await banner.get_by_role("button", name="Dismiss").click()
    await expect(inside.locator("#notices .notice")).to_have_count(0)
    await console.close()


# -- position ------------------------------------------------------------------------


async def test_refused_location_says_so_and_the_pin_starts_at_the_town_centre(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    page = await open_citizen(open_app, browser, "ines", at=None)
    await expect(page.locator("#geo-message")).to_contain_text("Location refused")
    centre = await page.evaluate("() => window.vigieApp.tenant.center")
    pin = await page.evaluate("() => window.vigieApp.map.position()")
    assert pin == centre
    await report(page, "Other")  # still reportable, at the centre
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    [stored] = await stored_alerts(web_hub, "ines")
    assert (float(stored["lat"]), float(stored["lon"])) == (centre[0], centre[1])


async def test_the_pin_moves_where_the_map_is_tapped(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    page = await open_citizen(open_app, browser, "jade")
    await expect(page.locator("#geo-message")).to_contain_text("Position found")
    before = await page.evaluate("() => window.vigieApp.map.position()")
    pin = await page.get_by_role("button", name="Place of the report").bounding_box()
    assert pin  # tap the map a little south-east of the pin (its point is at the bottom)
    await page.mouse.click(pin["x"] + pin["width"] / 2 + 20, pin["y"] + pin["height"] + 20)
    after = await page.evaluate("() => window.vigieApp.map.position()")
    assert after[0] < before[0] and after[1] > before[1]  # south-east of where it was
    await expect(page.locator("#geo-message")).to_contain_text("by hand")
    await page.get_by_role("button", name="Place of the report").press("ArrowUp")  # by keyboard too
    nudged = await page.evaluate("() => window.vigieApp.map.position()")
    assert nudged[0] > after[0] and nudged[1] == after[1]
    after = nudged
    await report(page, "Road hazard")
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    [stored] = await stored_alerts(web_hub, "jade")
    assert float(stored["lat"]) == after[0] and float(stored["lon"]) == after[1]
    assert stored["accuracy_m"] == ""  # placed by hand: the device's accuracy says nothing of it


async def test_a_place_outside_the_town_is_refused_with_a_clear_message(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    page = await open_citizen(open_app, browser, "quentin", at=PERPIGNAN)
    await expect(page.locator("#geo-message")).to_contain_text("Position found")
    await report(page, "Noise")
    await expect(page.locator("#report-message")).to_have_text(
        "The pin is outside Narbonne: put it inside the town."
    )
    await expect(page.locator("#mine > li")).to_have_count(0)
    assert await stored_alerts(web_hub, "quentin") == []
    no_errors(page)


async def test_past_the_rate_limit_a_report_fails_and_says_when_to_retry(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    page = await open_citizen(open_app, browser, "rose")
    for n in range(6):  # the tenant allows 5 per 10 minutes
        await report(page, "Noise", f"report {n}")
        await expect(page.locator("#mine > li")).to_have_count(n + 1)
        await expect(my_alert(page)).not_to_have_attribute("data-status", "waiting")
    refused = my_alert(page)
    await expect(refused).to_have_attribute("data-status", "failed")
    await expect(refused.get_by_role("alert")).to_contain_text("Too many reports")
    await expect(refused.get_by_role("alert")).to_contain_text(re.compile(r"try again in \d+ s"))
    await expect(page.locator("#mine > li.alert[data-status=received]")).to_have_count(5)
    assert len(await stored_alerts(web_hub, "rose")) == 5


# -- the offline shell ---------------------------------------------------------------


async def test_the_app_opens_offline_from_its_service_worker(
    open_app: OpenApp, browser: Browser, web_hub: WebHub
) -> None:
    context = await phone(browser)
    page = await open_citizen(open_app, browser, "kim", context=context)
    await page.evaluate("() => navigator.serviceWorker.ready")
    # Everything the first load fetched is in the shell the worker caches at install.
    shell = set(
        re.findall(r"'(/[^']+)'", SW.read_text().split("const SHELL = [", 1)[1].split("];")[0])
    )
    fetched = {urlsplit(u).path for u in page.vigie_requests if urlsplit(u).scheme == "http"}  # type: ignore[attr-defined]
    assert {p for p in fetched if p == "/app" or p.startswith("/static/")} <= shell

    async def refuse(ws: Any) -> None:
        await ws.close(code=1001, reason="network down (test)")

    await context.route("**/*", lambda route: route.abort("internetdisconnected"))
    await context.route_web_socket("**/ws", refuse)
    seen_by_hub = len(web_hub.log_lines)
    await page.reload()
    await expect(page.get_by_role("button", name="Noise", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    assert await page.evaluate("() => Boolean(navigator.serviceWorker.controller)")
    await expect(page.locator("#connection")).not_to_have_attribute("data-status", "live")
    await report(page, "Noise")  # and a report made now waits for the network
    await expect(my_alert(page)).to_have_attribute("data-status", "waiting")
    assert not [line for line in web_hub.log_lines[seen_by_hub:] if "GET " in line]


async def test_citizen_app_manifest_makes_it_installable(
    open_app: OpenApp, browser: Browser
) -> None:
    page = await open_citizen(open_app, browser, "lea")
    manifest = await page.evaluate("""async () => {
      const href = document.querySelector('link[rel=manifest]').href;
      return (await fetch(href)).json();
    }""")
    assert manifest["start_url"] == "/app" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        status = await page.evaluate("async (src) => (await fetch(src)).status", icon["src"])
        assert status == 200, icon


# -- untrusted text, language, accessibility ------------------------------------------


async def test_citizen_text_shows_literally(open_app: OpenApp, browser: Browser) -> None:
    page = await open_citizen(open_app, browser, "mia")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    text = f"{XSS[0]} {XSS[1]}"
    await report(page, "Incivility", text)
    row = my_alert(page)
    await expect(row).to_have_attribute("data-status", "received")
    await expect(row.locator(".alert-text")).to_have_text(text)
    await page.reload()
    await expect(my_alert(page).locator(".alert-text")).to_have_text(text)
    assert await page.locator("#mine img, #mine script").count() == 0
    assert dialogs == []
    no_errors(page)


async def test_citizen_app_french_by_default_english_on_request(
    open_app: OpenApp, browser: Browser
) -> None:
    page = await open_citizen(open_app, browser, "noe", lang="fr")
    assert await page.evaluate("() => document.documentElement.lang") == "fr"
    assert await page.title() == "Vigie — signaler"
    await expect(page.get_by_role("button", name="Nuisance sonore", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Envoyer", exact=True)).to_be_visible()
    await expect(page.locator("#emergency")).to_contain_text("17")
    await expect(page.locator("#emergency")).to_contain_text("112")
    await expect(page.locator("#report-text-hint")).to_contain_text("Ne nommez pas")


async def test_citizen_app_has_no_serious_accessibility_violation(
    open_app: OpenApp, browser: Browser, axe_check: Callable[..., Awaitable[Any]]
) -> None:
    started = time.monotonic()
    page = await open_citizen(open_app, browser, "owen")
    await axe_check(page)
    await report(page, "Fire", "smoke from a bin")
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    await axe_check(page)
    fr = await open_citizen(open_app, browser, "owen-fr", lang="fr", at=None)
    await expect(fr.locator("#geo-message")).to_contain_text("Localisation refusée")
    await axe_check(fr)
    print(f"\naxe: 3 checks in {time.monotonic() - started:.1f} s")
