"""The conversation with the reporters in the console (Chromium): the operator writes as
the control room, the resident's answer and rating appear in the incident panel, the
recurrence of a category in an area is said on the incident, publishing works."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import AxeCheck, OpenApp, WebHub
from tests.browser.test_console import CENTRE, open_console, queue, report
from tests.wire import connect


async def test_operator_and_resident_talk_about_an_alert(
    web_hub: WebHub, open_app: OpenApp, axe_check: AxeCheck
) -> None:
    alice, _ = await connect(web_hub.ws_url, "citizen", "alice")
    bob, _ = await connect(web_hub.ws_url, "citizen", "bob")
    first = await report(bob, "b1", "noise", at=CENTRE)
    close = {
        "type": "incident.update",
        "ref": "c",
        "incident": first["incident"],
        "status": "closed",
    }
    console, _ = await connect(web_hub.ws_url, "console", "op-0")
    await console.expect("snapshot")
    assert (await console.request(close))["type"] == "ok"
    ack = await report(alice, "a1", "noise", at=CENTRE)  # the 2nd noise incident here in 7 days
    page = await open_console(open_app, "op-martin")
    await queue(page).get_by_role("listitem").filter(has_text="Noise").click()
    panel = page.locator("#panel")
    await expect(panel.locator("#incident-recurrence")).to_have_text(
        "Noise: 2 incidents in this area in 7 days (this one included)"
    )
    await panel.get_by_label("Message to the reporters (as the control room)").fill(
        "Is the noise still going on?"
    )
    await panel.get_by_role("button", name="Send to the reporters").click()
    got = await alice.expect("message")
    assert got["from"] == "control_room" and got["text"] == "Is the noise still going on?"
    assert "martin" not in str(got)
    reply = {"type": "message.reply", "ref": "r1", "alert": ack["alert"], "text": "<b>Yes</b>"}
    assert (await alice.request(reply))["type"] == "ok"
    talk = panel.locator("#incident-talk")
    await expect(talk.locator("li.from-reporter")).to_contain_text("<b>Yes</b>")  # text, not HTML
    await expect(talk.locator("li.from-room")).to_contain_text("Control room")
    await panel.get_by_role("button", name="Publish to neighbours").click()
    await expect(panel.locator(".feedback")).to_have_text("Published to the neighbours.")
    assert await axe_check(page, "#panel") == []
