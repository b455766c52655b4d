"""The console's unit board and map markers: an offer counting down and left to
expire, and still counting down after a reload; stale positions drawn apart; the
names of units on one spot kept apart; and the sound of a new P1 once switched on.
Offers here expire after 2 s (the tenant's assignment_timeout_s) unless a test asks
for longer, to keep it short."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from playwright.async_api import expect

from hub.config import Config
from tests.browser.conftest import OpenApp, WebHub
from tests.browser.test_console import open_console, queue, report
from tests.browser.test_console_actions import unit_covering
from tests.wire import connect

TIMEOUT_S = 2


@pytest.fixture
def config(config: Config) -> Config:
    narbonne = replace(config.tenants["narbonne"], assignment_timeout_s=TIMEOUT_S)
    return replace(config, tenants={**config.tenants, "narbonne": narbonne})


async def test_an_offer_counts_down_and_expires_on_the_board_and_in_the_queue(
    web_hub: WebHub, open_app: OpenApp
) -> None:
    unit = await unit_covering(web_hub, "u1")
    page = await open_console(open_app)
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    await report(citizen, "r1", "fire", text="smoke from a bin")
    row = queue(page).get_by_role("listitem").filter(has_text="Fire")
    await row.click()
    await page.get_by_role("button", name="Assign").click()
    board = page.locator('#units tr[data-unit="u1"]')
    await expect(board).to_contain_text(re.compile(r"in1 · [12] s"))
    await expect(row).to_contain_text(re.compile(r"offered to u1 · [12] s left"))
    offer = await unit.expect("assignment")
    assert offer["expires_at"] - int(time.time() * 1000) <= TIMEOUT_S * 1000
    await expect(row).to_contain_text("offer to u1 expired", timeout=5000)
    await expect(board.locator("td").nth(3)).to_have_text("")
    await expect(page.locator("#panel .history")).to_contain_text("offer expired")
    await unit.close()
    await citizen.close()


async def test_stale_positions_are_drawn_apart(web_hub: WebHub, open_app: OpenApp) -> None:
    fresh = await unit_covering(web_hub, "u1")
    old = await unit_covering(web_hub, "u2", at=(43.16, 3.16))
    three_minutes_ago = int(time.time() * 1000) - 3 * 60 * 1000
    position = {"type": "unit.position", "ref": "old", "lat": 43.161, "lon": 3.161}
    assert (await old.request({**position, "at": three_minutes_ago}))["type"] == "ok"
    page = await open_console(open_app)
    await expect(page.locator(".unit-marker")).to_have_count(2)
    await expect(page.locator(".unit-marker.unit-stale")).to_have_text("u2")
    await expect(page.locator(".unit-marker.unit-fresh")).to_have_text("u1")
    await expect(page.locator('#units tr[data-unit="u2"]')).to_have_class(re.compile(r"\bstale\b"))
    await expect(page.locator('#units tr[data-unit="u2"]')).to_contain_text("3 min")
    # Coverage in words: the town's sectors by their names (a count otherwise), never an H3 id.
    coverage = 2  # the board's columns after the unit: status, last seen, coverage, offer
    await expect(page.locator('#units tr[data-unit="u1"] td').nth(coverage)).to_have_text(
        "sector centre · around its position"
    )
    await expect(page.locator('#units tr[data-unit="u2"] td').nth(coverage)).to_have_text(
        "sector plage · around its position"
    )
    for peer in (fresh, old):
        await peer.close()


async def test_units_on_one_spot_have_their_names_drawn_apart(
    web_hub: WebHub, open_app: OpenApp
) -> None:
    """Three patrols at the station: three readable names, a dot where they are."""
    units = [await unit_covering(web_hub, f"patrol-{n}") for n in ("nord", "sud", "centre")]
    page = await open_console(open_app)
    labels = page.locator(".unit-marker span")
    await expect(labels).to_have_count(3)
    await expect(page.locator(".unit-marker.displaced")).to_have_count(2)
    boxes = await labels.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })"
    )
    for i, (l1, t1, r1, b1) in enumerate(boxes):
        for l2, t2, r2, b2 in boxes[i + 1 :]:
            assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, f"{boxes} overlap"
    for unit in units:
        await unit.close()


async def test_a_new_p1_sounds_once_sound_is_on_and_the_title_counts(
    web_hub: WebHub, open_app: OpenApp
) -> None:
    page = await open_console(open_app)
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    await report(citizen, "r1", "violence")
    await expect(page).to_have_title("(1) Vigie — control room")
    assert await page.evaluate("window.vigieConsole.alarm.played") == 0  # sound is off
    sound = page.get_by_role("button", name="Sound alerts")
    await sound.click()
    await expect(sound).to_have_attribute("aria-pressed", "true")
    await report(citizen, "r2", "burglary", at=(43.16, 3.16))
    await expect(page).to_have_title("(2) Vigie — control room")
    await page.wait_for_function("() => window.vigieConsole.alarm.played === 1")
    await report(citizen, "r3", "noise", at=(43.2, 3.0))  # P4: no sound
    await expect(queue(page).get_by_role("listitem")).to_have_count(3)
    assert await page.evaluate("window.vigieConsole.alarm.played") == 1
    await citizen.close()


async def test_a_reloaded_console_shows_the_pending_offer_and_its_countdown(
    web_hub: WebHub, open_app: OpenApp
) -> None:
    unit = await unit_covering(web_hub, "u1")
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    ack = await report(citizen, "r1", "theft")
    page = await open_console(open_app)
    console, _ = await connect(web_hub.ws_url, "console", "op2")
    offer = {"type": "dispatch.assign", "ref": "a", "incident": ack["incident"], "unit": "u1"}
    assert (await console.request({**offer, "timeout_s": 30}))["type"] == "ok"
    board = page.locator('#units tr[data-unit="u1"]')
    await expect(board).to_have_class(re.compile(r"\boffered\b"))
    await page.reload()  # a fresh state: only the snapshot knows of the offer now
    await page.wait_for_function("() => window.vigieConsole?.state().ready")
    await expect(board).to_have_class(re.compile(r"\boffered\b"))
    await expect(board).to_contain_text(re.compile(rf"{ack['incident']} · (30|2\d) s"))
    row = queue(page).get_by_role("listitem").filter(has_text="Theft")
    await expect(row).to_contain_text(re.compile(r"offered to u1 · (30|2\d) s left"))
    for peer in (unit, citizen, console):
        await peer.close()
