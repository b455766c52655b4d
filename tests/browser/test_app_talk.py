"""The resident's side in the citizen app (Chromium): the control room's question appears
on the alert, the answer (written offline) goes once the app is back, after the end the
resident rates the handling once; a neighbour sees a published incident and says me too."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.browser.conftest import AxeCheck, WebHub
from tests.browser.test_app import (
    CENTRE,
    Link,
    OpenApp,
    alert_id,
    console_peer,
    my_alert,
    no_errors,
    ok,
    open_citizen,
    phone,
    report,
)
from tests.wire import connect


async def test_the_resident_answers_the_control_room_and_rates_the_outcome(
    open_app: OpenApp, browser: Browser, web_hub: WebHub, axe_check: AxeCheck
) -> None:
    console = await console_peer(web_hub)
    context = await phone(browser)
    link = Link()
    await context.route_web_socket("**/ws", link.route)
    page = await open_citizen(open_app, browser, "alice", context=context)
    await report(page, "Noise")
    await expect(my_alert(page)).to_have_attribute("data-status", "received")
    incident = (await console.expect("incident"))["incident"]["id"]
    alert = await alert_id(page)
    ask = {"type": "message.send", "ref": "q1", "incident": incident, "text": "Still going on?"}
    await ok(console, ask)
    await console.expect("message", message="ms1")  # the console's own copy, on the events stream
    row = my_alert(page)
    talk = row.get_by_role("list", name="Messages with the control room")
    await expect(talk.locator("li.from-room")).to_contain_text("Control room:")
    await expect(talk.locator("li.from-room")).to_contain_text("Still going on?")

    # Written offline: kept, then sent once the connection is back.
    await link.cut()
    await expect(page.locator("#connection")).not_to_have_attribute("data-status", "live")
    await row.get_by_label("Your answer").fill("Yes, <b>louder</b>")
    await row.get_by_role("button", name="Send the answer").click()
    await console.nothing(0.5)  # kept on the phone meanwhile
    link.up = True  # the next reconnect attempt gets through
    heard = await console.expect("message", timeout=20, where=lambda m: m["from"] == "reporter")
    assert heard["alert"] == alert and heard["text"] == "Yes, <b>louder</b>"
    await expect(talk.locator("li.from-me")).to_contain_text("Yes, <b>louder</b>")
    await console.nothing(0.5)  # once

    close = {"type": "incident.update", "ref": "c1", "incident": incident, "status": "closed"}
    await ok(console, close)
    await expect(row).to_have_attribute("data-status", "resolved")
    await row.get_by_label("4").check()
    await row.get_by_label("A comment (optional)").fill("Quick, thanks")
    await row.get_by_role("button", name="Send my rating").click()
    rated = await console.expect("feedback")
    assert rated["score"] == 4 and rated["comment"] == "Quick, thanks"
    await expect(row.locator(".rated")).to_have_text("Thank you: you rated 4/5.")
    assert await axe_check(page, "#mine") == []
    no_errors(page)
    await console.close()


async def test_a_neighbour_sees_a_published_incident_and_says_me_too(
    open_app: OpenApp, browser: Browser, web_hub: WebHub, axe_check: AxeCheck
) -> None:
    console = await console_peer(web_hub)
    alice, _ = await connect(web_hub.ws_url, "citizen", "alice")
    page = await open_citizen(open_app, browser, "bob")
    await page.wait_for_function("() => window.vigieApp.followed.length > 0")
    await page.get_by_label("Show the incidents the town publishes around me").check()
    near = page.locator("#nearby-list")
    await expect(near).to_contain_text("Nothing published around you.")
    submit = {"type": "alert.submit", "ref": "a1", "category": "noise", "lat": CENTRE[0],
              "lon": CENTRE[1], "text": "Party at number 12"}  # fmt: skip
    ack = await alice.request(submit)
    await ok(console, {"type": "incident.publish", "ref": "p", "incident": ack["incident"]})
    item = near.locator(f'li[data-incident="{ack["incident"]}"]')
    await expect(item).to_contain_text("Noise · reported")
    await expect(near).not_to_contain_text("Party")  # never a text
    await item.get_by_role("button", name="Me too").click()
    counted = await console.expect("incident", where=lambda m: m["incident"]["reporters"] == 2)
    assert counted["incident"]["id"] == ack["incident"]
    await expect(item.get_by_role("button", name="Me too")).to_have_count(0)
    await expect(page.locator("#mine > li")).to_have_count(1)  # now one of my reports
    assert await axe_check(page, "#nearby") == []
    no_errors(page)
    await console.close()
