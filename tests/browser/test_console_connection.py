"""The console's connection: a dropped socket is shown within 5 s and recovered by
resuming, without duplicates; a resume the hub can no longer serve (`reset`) is
rebuilt from the fresh snapshot. The socket is cut with Playwright's
`route_web_socket` (going offline does not cut WebSockets)."""

from __future__ import annotations

import time
from typing import Any

from playwright.async_api import Browser, Page, WebSocketRoute, expect
from redis.asyncio import Redis

from tests.browser.conftest import OpenApp, WebHub
from tests.browser.test_console import ELSEWHERE, queue, report
from tests.wire import connect

EVENTS = "vg:{narbonne}:events"


class Cutter:
    """Passes the console's sockets through to the hub until told to cut them."""

    def __init__(self) -> None:
        self.routes: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.holding = False

    async def handle(self, ws: WebSocketRoute) -> None:
        if self.holding:  # the network is down: every attempt fails at once
            await ws.close(code=1011, reason="cut by the test")
            return
        self.routes.append((ws, ws.connect_to_server()))

    async def cut(self) -> None:
        self.holding = True
        for page_side, hub_side in self.routes:
            await hub_side.close(code=1001, reason="cut by the test")
            await page_side.close(code=1011, reason="cut by the test")
        self.routes.clear()

    def restore(self) -> None:
        self.holding = False


async def open_cuttable_console(
    open_app: OpenApp, browser: Browser, cutter: Cutter
) -> tuple[Page, Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.route_web_socket("**/ws", cutter.handle)
    page = await open_app("console", "console", "op1", context=context)
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    await page.wait_for_function("() => window.vigieConsole && window.vigieConsole.state().ready")
    return page, context


async def no_duplicates(page: Page, expected: int) -> None:
    await expect(queue(page).get_by_role("listitem")).to_have_count(expected)
    ids = await page.eval_on_selector_all("#queue li", "els => els.map(e => e.dataset.id)")
    order = await page.evaluate("window.vigieConsole.state().order")
    assert len(set(ids)) == len(ids) == expected and sorted(ids) == sorted(order)


async def test_dropped_connection_is_shown_and_recovered_without_duplicates(
    web_hub: WebHub, open_app: OpenApp, browser: Browser
) -> None:
    cutter = Cutter()
    page, _ = await open_cuttable_console(open_app, browser, cutter)
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    await report(citizen, "r1", "theft")
    await expect(queue(page).get_by_role("listitem")).to_have_count(1)
    badge = page.locator("#connection")
    cut_at = time.monotonic()
    await cutter.cut()
    await expect(badge).to_have_attribute("data-status", "reconnecting", timeout=5000)
    shown = time.monotonic() - cut_at
    print(f"\nconnection lost -> shown: {shown * 1000:.0f} ms")
    await expect(badge).to_contain_text("Reconnect")
    # Meanwhile the town goes on: a new report, and the first one grows.
    await report(citizen, "r2", "noise", at=ELSEWHERE)
    bob, _ = await connect(web_hub.ws_url, "citizen", "bob")
    await report(bob, "r3", "theft")
    cutter.restore()
    await expect(badge).to_have_attribute("data-status", "live", timeout=10000)
    await no_duplicates(page, 2)
    await expect(queue(page).get_by_role("listitem").filter(has_text="Theft")).to_contain_text(
        "2 reports"
    )
    assert not page.vigie_errors  # type: ignore[attr-defined]
    for peer in (citizen, bob):
        await peer.close()


async def test_reset_rebuilds_from_the_snapshot(
    web_hub: WebHub, open_app: OpenApp, browser: Browser, redis: Redis
) -> None:
    cutter = Cutter()
    page, _ = await open_cuttable_console(open_app, browser, cutter)
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    first = await report(citizen, "r1", "theft")
    await report(citizen, "r2", "noise", at=ELSEWHERE)
    await no_duplicates(page, 2)
    await page.evaluate(
        "() => { window.seen = []; window.__vigieRendered = (msg) => window.seen.push(msg.type); }"
    )
    await cutter.cut()
    console, _ = await connect(web_hub.ws_url, "console", "op2")
    closing = {"type": "incident.update", "ref": "c", "incident": first["incident"]}
    assert (await console.request({**closing, "status": "closed"}))["type"] == "ok"
    await report(citizen, "r3", "vandalism", at=(43.2, 3.0))
    # The history the console would resume from is trimmed away: the hub must reset.
    last = await redis.xrevrange(EVENTS, count=1)
    await redis.xtrim(EVENTS, minid=last[0][0], approximate=False)
    cutter.restore()
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    await expect(queue(page).get_by_role("listitem").filter(has_text="Vandalism")).to_have_count(1)
    await no_duplicates(page, 2)
    await expect(queue(page).get_by_role("listitem").filter(has_text="Theft")).to_have_count(0)
    await expect(page.locator("#sync")).to_have_text("")
    seen = await page.evaluate("window.seen")
    assert seen[seen.index("reset") + 1] == "snapshot", seen
    await console.close()
    await citizen.close()
