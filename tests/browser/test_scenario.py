"""The three apps together (issue 9, "Tests"): a resident reports on /app; the console
shows it in its queue (the delay is measured); the operator acknowledges and assigns
from the keyboard; the tablet shows the offer with its countdown and accepts; on
scene; resolved; the resident's timeline shows every step in order. And an offer the
patrol leaves alone, expiring on the tablet and on the console.

Each app is driven by its accessible names only (docs/web.md): the citizen app's
category buttons and Send, the console's queue and keys, the tablet's Accept,
On scene and Resolved. Offers last 6 s here (the tenant's assignment_timeout_s).
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.async_api import Browser, Page, expect

from hub.config import Config
from tests.browser.conftest import OpenApp, WebHub
from tests.browser.test_console import CENTRE, open_console, queue

OFFER_S = 6
CLOCK = re.compile(r"^\d\d:\d\d$")


@pytest.fixture
def config(config: Config) -> Config:
    narbonne = replace(config.tenants["narbonne"], assignment_timeout_s=OFFER_S)
    return replace(config, tenants={**config.tenants, "narbonne": narbonne})


def located(at: tuple[float, float]) -> dict[str, object]:
    return {
        "geolocation": {"latitude": at[0], "longitude": at[1], "accuracy": 15},
        "permissions": ["geolocation"],
    }


async def open_three(open_app: OpenApp, browser: Browser) -> tuple[Page, Page, Page]:
    """The console, the tablet of u1 and a resident's phone, all at the town centre, live."""
    console = await open_console(open_app, "op1")
    tablet_context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, **located(CENTRE)
    )
    tablet = await open_app("unit", "unit", "u1", context=tablet_context)
    phone_context = await browser.new_context(
        viewport={"width": 390, "height": 844}, **located(CENTRE)
    )
    phone = await open_app("app", "citizen", "alice", context=phone_context)
    for page in (tablet, phone):
        await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    # The console sees the patrol where its tablet is.
    await expect(console.locator(".unit-marker")).to_have_text("u1")
    return console, tablet, phone


async def resident_reports(console: Page, phone: Page, category: str, text: str) -> float:
    """Report from the phone; returns ms from the press of Send to the console's queue row."""
    await console.evaluate(
        """() => { window.rowSeenAt = null;
        window.__vigieRendered = (msg) => {
          if (msg.type === 'incident' && window.rowSeenAt === null
              && document.querySelector('#queue li')) window.rowSeenAt = Date.now();
        }; }"""
    )
    await phone.get_by_role("button", name=category, exact=True).click()
    await phone.get_by_label("Details (optional)").fill(text)
    pressed: float = await phone.evaluate(
        "() => { const t = Date.now(); document.querySelector('#send').click(); return t; }"
    )
    await console.wait_for_function("() => window.rowSeenAt !== null")
    seen: float = await console.evaluate("window.rowSeenAt")
    return seen - pressed


async def test_resident_to_console_to_patrol_and_back(
    web_hub: WebHub, open_app: OpenApp, browser: Browser
) -> None:
    console, tablet, phone = await open_three(open_app, browser)
    delay = await resident_reports(console, phone, "Violence", "two men fighting, one has a bottle")
    print(f"\nresident Send -> console queue row: {delay:.0f} ms")
    assert delay < 1000
    row = queue(console).get_by_role("listitem").filter(has_text="Violence")
    await expect(row).to_contain_text("P1")
    await expect(console).to_have_title("(1) Vigie — control room")

    # The operator, keyboard only: select, acknowledge, dispatch the recommended unit.
    await console.keyboard.press("j")
    await expect(row).to_have_attribute("aria-current", "true")
    await expect(console.locator("#panel .recommendation")).to_contain_text("u1")
    await console.keyboard.press("a")
    await expect(row).to_contain_text("acknowledged")
    await console.keyboard.press("d")

    offer = tablet.get_by_role("alertdialog")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("two men fighting")
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"^0:0[3-6]$"))
    await expect(row).to_contain_text(re.compile(r"offered to u1 · \d s left"))
    await offer.get_by_role("button", name="Accept").click()
    await expect(row).to_contain_text("dispatched")
    await tablet.get_by_role("button", name="On scene").click()
    await expect(row).to_contain_text("on scene")
    await tablet.get_by_role("button", name="Resolved").click()
    await expect(row).to_have_count(0)  # resolved: out of the queue

    mine = phone.locator("#mine > li.alert").first
    await expect(mine).to_have_attribute("data-status", "resolved")
    steps = mine.locator(".step.reached")
    await expect(steps.locator(".step-label")).to_have_text(
        ["Received", "Acknowledged", "Patrol dispatched", "Patrol on scene", "Resolved"]
    )
    times = [await steps.nth(n).locator("time").text_content() for n in range(5)]
    assert all(CLOCK.match(t or "") for t in times) and times == sorted(times)
    for page in (console, tablet, phone):
        assert page.vigie_errors == [], page.url  # type: ignore[attr-defined]


async def test_an_offer_left_alone_expires_on_the_tablet_and_the_console(
    web_hub: WebHub, open_app: OpenApp, browser: Browser
) -> None:
    console, tablet, phone = await open_three(open_app, browser)
    await resident_reports(console, phone, "Theft", "my scooter")
    await console.keyboard.press("j")
    await expect(console.locator("#panel .recommendation")).to_contain_text("u1")
    await console.keyboard.press("d")
    offer = tablet.get_by_role("alertdialog")
    await expect(offer).to_be_visible()
    board = console.locator('#units tr[data-unit="u1"]')
    await expect(board).to_contain_text(re.compile(r"in1 · \d s"))
    row = queue(console).get_by_role("listitem").filter(has_text="Theft")
    await expect(row).to_contain_text("offer to u1 expired", timeout=(OFFER_S + 3) * 1000)
    await expect(offer).to_be_hidden()
    await expect(tablet.locator("#notice")).to_contain_text("expired")
    await expect(board.locator("td").nth(3)).to_have_text("")
    await expect(phone.locator("#mine > li.alert").first).to_have_attribute(
        "data-status", "received"
    )
