"""The operator's actions in the console, by keyboard and by accessible name: j/k/a/d,
assign and a unit accepting, merge, close and reject with a note, a notice, and
untrusted texts shown literally."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import h3
import pytest_asyncio
from playwright.async_api import Page, expect

from tests.browser.conftest import AxeCheck, OpenApp, WebHub
from tests.browser.test_console import CENTRE, ELSEWHERE, open_console, queue, report
from tests.wire import Peer, connect


@pytest_asyncio.fixture(loop_scope="session")
async def citizen(web_hub: WebHub) -> AsyncIterator[Peer]:
    peer, _ = await connect(web_hub.ws_url, "citizen", "alice")
    yield peer
    await peer.close()


async def unit_covering(web_hub: WebHub, sub: str, at: tuple[float, float] = CENTRE) -> Peer:
    """A patrol unit (raw protocol peer) covering the sector around `at`, available."""
    unit, _ = await connect(web_hub.ws_url, "unit", sub)
    await unit.expect("snapshot")
    cover = {"type": "cover", "ref": "cv", "cells": [h3.latlng_to_cell(*at, 7)]}
    assert (await unit.request(cover))["type"] == "ok"
    pos = {"type": "unit.position", "ref": "p", "lat": at[0], "lon": at[1]}
    assert (await unit.request(pos))["type"] == "ok"
    status = {"type": "unit.status", "ref": "s", "status": "available"}
    assert (await unit.request(status))["type"] == "ok"
    return unit


def row(page: Page, text: str) -> Any:
    return queue(page).get_by_role("listitem").filter(has_text=text)


def panel(page: Page) -> Any:
    return page.locator("#panel")


async def test_keyboard_moves_acknowledges_and_dispatches(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer, axe_check: AxeCheck
) -> None:
    unit = await unit_covering(web_hub, "u1")
    page = await open_console(open_app)
    theft = await report(citizen, "r1", "theft")  # P2: first in the queue
    await report(citizen, "r2", "noise", at=ELSEWHERE)  # P4
    await expect(queue(page).get_by_role("listitem")).to_have_count(2)
    await page.keyboard.press("j")
    await expect(row(page, "Theft")).to_have_attribute("aria-current", "true")
    await expect(row(page, "Theft")).to_be_focused()
    await page.keyboard.press("j")
    await expect(row(page, "Noise")).to_have_attribute("aria-current", "true")
    await expect(panel(page)).to_contain_text("Noise")
    await page.keyboard.press("k")
    await expect(panel(page).locator(".summary")).to_contain_text("Theft")
    await expect(page).to_have_title("(1) Vigie — control room")
    await page.keyboard.press("a")
    await expect(row(page, "Theft")).to_contain_text("acknowledged")
    await expect(page).to_have_title("Vigie — control room")
    await expect(panel(page).locator(".recommendation")).to_contain_text("u1")
    await page.keyboard.press("d")
    offer = await unit.expect("assignment")
    assert offer["incident"]["id"] == theft["incident"]
    await expect(row(page, "Theft")).to_contain_text(re.compile(r"offered to u1 · \d+ s left"))
    await expect(page.locator('#units tr[data-unit="u1"]')).to_contain_text(theft["incident"])
    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("acknowledge the selected incident")
    await axe_check(page)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    assert not page.vigie_errors  # type: ignore[attr-defined]
    await unit.close()


async def test_assign_from_the_picker_and_the_unit_accepts(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer, axe_check: AxeCheck
) -> None:
    unit = await unit_covering(web_hub, "u1")
    other = await unit_covering(web_hub, "u2", at=ELSEWHERE)
    page = await open_console(open_app)
    ack = await report(citizen, "r1", "violence", text="fight outside the bar")
    await row(page, "Violence").click()
    picker = page.get_by_label("Unit", exact=True)
    await expect(picker.locator("option").first).to_have_text(re.compile(r"^u1 — recommended"))
    await picker.select_option("u1")
    await page.get_by_role("button", name="Assign").click()
    offer = await unit.expect("assignment")
    await expect(page.locator('#units tr[data-unit="u1"]')).to_contain_text(re.compile(r"\d+ s"))
    await unit.send({"type": "assignment.accept", "assignment": offer["assignment"]})
    await expect(row(page, "Violence")).to_contain_text("dispatched")
    await expect(row(page, "Violence")).to_contain_text("unit u1")
    await expect(page.locator('#units tr[data-unit="u1"] td').nth(3)).to_have_text("")
    await expect(panel(page).locator(".reports")).to_contain_text("fight outside the bar")
    await expect(panel(page).locator(".history")).to_contain_text("offer accepted")
    await expect(page.locator('#units tr[data-unit="u2"]')).to_contain_text("available")
    await axe_check(page)
    assert ack["incident"] in await page.locator("#panel .summary").inner_text()
    for peer in (unit, other):
        await peer.close()


async def test_merge_picks_the_other_incident(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    page = await open_console(open_app)
    one = await report(citizen, "r1", "theft", text="bag snatched")
    two = await report(citizen, "r2", "theft", at=ELSEWHERE, text="same thief, seen later")
    await expect(queue(page).get_by_role("listitem")).to_have_count(2)
    await page.locator(f'#queue li[data-id="{one["incident"]}"]').click()
    await page.get_by_label("Merge in").select_option(two["incident"])
    await page.get_by_role("button", name="Merge").click()
    await expect(queue(page).get_by_role("listitem")).to_have_count(1)
    await expect(row(page, "Theft")).to_contain_text("2 reports")
    await expect(panel(page).locator(".reports li")).to_have_count(2)
    await expect(panel(page).locator(".reports")).to_contain_text("same thief, seen later")
    await expect(panel(page).locator(".history")).to_contain_text("merge")


async def test_close_and_reject_with_a_note_and_errors_shown(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    console, _ = await connect(web_hub.ws_url, "console", "op2")
    await console.expect("snapshot")
    page = await open_console(open_app)
    closed = await report(citizen, "r1", "noise", text="music")
    await report(citizen, "r2", "other", at=ELSEWHERE, text="prank")
    await row(page, "Noise").click()
    await page.get_by_label("Note").fill("handled by phone")
    await page.get_by_role("button", name="Close").click()
    await expect(row(page, "Noise")).to_have_count(0)
    # The selection moved to the incident now in its place.
    await expect(panel(page).locator(".summary")).to_contain_text("Other")
    await page.get_by_label("Note").fill("a joke")
    await page.get_by_role("button", name="Reject").click()
    await expect(queue(page).get_by_role("listitem")).to_have_count(0)
    history = await console.request(
        {"type": "incident.history", "ref": "h", "incident": closed["incident"]}
    )
    assert [(e["action"], e.get("note")) for e in history["entries"]] == [
        ("close", "handled by phone")
    ]
    await console.close()


async def test_neighbouring_incidents_share_one_label_until_zoomed_in(
    open_app: OpenApp, citizen: Peer
) -> None:
    """At the town's zoom three incidents a street apart would pile their labels:
    the most urgent is drawn with the count of the others, and zooming in parts them."""
    page = await open_console(open_app)
    lat, lon = CENTRE
    await report(citizen, "r1", "noise", at=(lat, lon))
    await report(citizen, "r2", "fire", at=(lat + 0.002, lon))
    await report(citizen, "r3", "theft", at=(lat, lon + 0.002))
    await expect(page.locator("#map path.hex")).to_have_count(3)
    incidents = await page.evaluate("[...window.vigieConsole.state().incidents.values()]")
    fire = next(i["id"] for i in incidents if i["category"] == "fire")
    await expect_drawn(page, {fire: 2})
    heap = await page.locator("#map path.hex-p1").bounding_box()
    assert heap is not None
    await page.mouse.move(heap["x"] + heap["width"] / 2, heap["y"] + heap["height"] / 2)
    # Three zoom levels in (Leaflet: 60 px of wheel a level), around the pointer: the
    # heap stays in view.
    await page.mouse.wheel(0, -180)
    await expect_drawn(page, {i["id"]: 0 for i in incidents})


async def expect_drawn(page: Page, gathered: dict[str, int]) -> None:
    """The priority labels drawn, each with how many others it stands for, within 5 s
    (wait_for_function would evaluate a string: the console's CSP forbids it)."""
    seen = None
    for _ in range(100):
        seen = await page.evaluate("window.vigieConsole.gathered()")
        if seen == gathered:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"labels drawn: {seen}, expected {gathered}")


async def test_set_priority_and_a_refused_command_is_shown(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    page = await open_console(open_app)
    await report(citizen, "r1", "noise")
    await row(page, "Noise").click()
    await page.get_by_label("Priority", exact=True).select_option("1")
    await page.get_by_role("button", name="Set priority").click()
    await expect(row(page, "Noise")).to_contain_text("P1")
    await expect(page.locator("#map path.hex-p1")).to_have_count(1)
    labels = await page.evaluate("window.vigieConsole.labels()")
    assert [priority for _, priority in labels] == [1]
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(panel(page).get_by_role("status")).to_have_text("Acknowledged.")
    # Another operator dispatches it meanwhile: our offer is refused, and we say so.
    unit = await unit_covering(web_hub, "u1")
    console, _ = await connect(web_hub.ws_url, "console", "op2")
    incident = await page.evaluate("window.vigieConsole.selected()")
    offer = {"type": "dispatch.assign", "ref": "a", "incident": incident, "unit": "u1"}
    assert (await console.request(offer))["type"] == "ok"
    sent = await unit.expect("assignment")
    await unit.send({"type": "assignment.accept", "assignment": sent["assignment"]})
    await expect(row(page, "Noise")).to_contain_text("dispatched")
    await page.get_by_label("Unit", exact=True).select_option("u1")
    await page.get_by_role("button", name="Assign").click()
    # Said by the error's code, in the operator's words; the hub's English is for developers.
    await expect(panel(page).get_by_role("alert")).to_have_text(
        "Refused: the incident's state does not allow this (it may have changed meanwhile)."
    )
    assert "cannot assign" not in await panel(page).inner_text()
    for peer in (console, unit):
        await peer.close()


async def test_notice_sent_to_the_cells_picked(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    page = await open_console(open_app)
    await report(citizen, "r1", "road_hazard", text="tree on the road")
    follower, _ = await connect(web_hub.ws_url, "citizen", "bob")
    cell = h3.latlng_to_cell(*CENTRE, 9)
    follow = {"type": "citizen.follow", "ref": "f", "cells": [cell]}
    assert (await follower.request(follow))["type"] == "ok"
    await row(page, "Road hazard").click()
    await page.get_by_role("button", name="Add the incident's cell").click()
    await expect(page.get_by_role("list", name="Cells of the notice")).to_contain_text(cell)
    # And one picked on the map, then removed again.
    await page.get_by_role("button", name="Pick cells on the map").click()
    box = await page.locator("#map").bounding_box()
    assert box
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await expect(page.locator(".notice-cells li")).to_have_count(2)
    await page.locator(".notice-cells li").nth(1).get_by_role("button").click()
    await expect(page.locator(".notice-cells li")).to_have_count(1)
    await page.get_by_label("Notice text").fill("Road closed near the market")
    await page.get_by_role("button", name="Send notice").click()
    notice = await follower.expect("notice")
    # Residents learn only the coarse place (privacy: the tenant's notice_resolution).
    assert notice["text"] == "Road closed near the market"
    assert notice["cells"] == [h3.cell_to_parent(cell, 7)]  # notice_resolution
    await expect(page.locator("#notices").get_by_role("status")).to_have_text(
        "Notice sent to 1 cells."
    )
    await follower.close()


XSS_TEXTS = ["<img src=x onerror=alert(1)>", "<script>window.__pwned = 1</script>"]


async def test_untrusted_texts_are_shown_literally_and_nothing_runs(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    page = await open_console(open_app)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    first = await report(citizen, "r1", "noise", text=XSS_TEXTS[0])
    bob, _ = await connect(web_hub.ws_url, "citizen", "bob")
    await report(bob, "r2", "noise", text=XSS_TEXTS[1])  # grouped: the latest text
    await bob.close()
    await expect(row(page, "Noise")).to_contain_text(XSS_TEXTS[1])
    await row(page, "Noise").click()
    reports = panel(page).locator(".reports li")
    await expect(reports).to_have_count(2)
    await expect(reports.nth(0)).to_contain_text(XSS_TEXTS[0])
    await expect(reports.nth(1)).to_contain_text(XSS_TEXTS[1])
    assert await page.locator("#queue img, #panel img, #queue script, #panel script").count() == 0
    assert await page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert first["incident"]


async def test_map_and_queue_select_the_same_incident(
    web_hub: WebHub, open_app: OpenApp, citizen: Peer
) -> None:
    page = await open_console(open_app)
    first = await report(citizen, "r1", "theft")
    nearby = (CENTRE[0] + 0.004, CENTRE[1] + 0.004)  # ~500 m away: its own hexagon
    second = await report(citizen, "r2", "noise", at=nearby)
    await expect(page.locator("#map path.hex")).to_have_count(2)
    for _ in range(4):
        await page.get_by_role("button", name="Zoom in").click()
        await page.wait_for_timeout(300)  # Leaflet's zoom animation
    await row(page, "Theft").click()  # the queue selects: the map highlights it, brought into view
    await expect(page.locator("#map path.hex.selected.hex-p2")).to_be_visible()
    await page.locator("#map path.hex-p4").click()  # the map selects: the queue follows
    await expect(row(page, "Noise")).to_have_attribute("aria-current", "true")
    await expect(row(page, "Theft")).not_to_have_attribute("aria-current", "true")
    await expect(panel(page).locator(".summary")).to_contain_text(second["incident"])
    await expect(page.locator("#map path.hex.selected.hex-p4")).to_have_count(1)
    assert first["incident"] != second["incident"]
