"""The control-room console in Chromium, against a real hub and Redis (issue 9, "The console").

Citizens and units are driven by raw protocol clients (tests/wire.py); the operator
by the console's accessible names and keys.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.async_api import Page, expect

from hub.core.tokens import issue_token
from tests.browser.conftest import AxeCheck, OpenApp, WebHub
from tests.wire import Peer, connect

CENTRE = (43.1839, 3.0042)
ELSEWHERE = (43.16, 3.16)  # Narbonne-Plage: another incident


async def open_console(open_app: OpenApp, sub: str = "op1") -> Page:
    """The console, live with its first snapshot applied."""
    page = await open_app("console", "console", sub)
    await expect(page.locator("#connection")).to_have_attribute("data-status", "live")
    await page.wait_for_function("() => window.vigieConsole && window.vigieConsole.state().ready")
    return page


async def report(
    citizen: Peer,
    ref: str,
    category: str = "theft",
    at: tuple[float, float] = CENTRE,
    text: str = "",
) -> dict[str, Any]:
    msg = {"type": "alert.submit", "ref": ref, "category": category, "lat": at[0], "lon": at[1]}
    if text:
        msg["text"] = text
    ack = await citizen.request(msg)
    assert ack["type"] == "alert.ack", ack
    return ack


def queue(page: Page) -> Any:
    return page.get_by_role("list", name="Queue")


async def test_queue_shows_a_new_incident_within_the_second(
    web_hub: WebHub, open_app: OpenApp, axe_check: AxeCheck
) -> None:
    page = await open_console(open_app)
    await page.evaluate(
        """() => { window.firstSeen = {};
        window.__vigieRendered = (msg) => {
          if (msg.type === 'incident' && !(msg.incident.id in window.firstSeen)
              && document.querySelector(`#queue li[data-id="${msg.incident.id}"]`)) {
            window.firstSeen[msg.incident.id] = Date.now();
          }
        }; }"""
    )
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    sent = time.time() * 1000
    ack = await report(citizen, "r1", "theft", text="bike stolen")
    await page.wait_for_function(f"() => '{ack['incident']}' in window.firstSeen")
    delay = await page.evaluate(f"window.firstSeen['{ack['incident']}']") - sent
    print(f"\nsubmit -> console DOM: {delay:.0f} ms")
    assert delay < 1000
    row = queue(page).get_by_role("listitem").filter(has_text="Theft")
    await expect(row).to_contain_text("P2")
    await expect(row).to_have_class(re.compile(r"\bfresh\b"))
    await expect(page).to_have_title("(1) Vigie — control room")
    await axe_check(page)
    assert not page.vigie_errors  # type: ignore[attr-defined]
    await citizen.close()


async def test_french_names_title_and_axe(
    web_hub: WebHub, open_app: OpenApp, axe_check: AxeCheck
) -> None:
    page = await open_app("console", "console", "op1", lang="fr")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    citizen, _ = await connect(web_hub.ws_url, "citizen", "alice")
    await report(citizen, "r1", "burglary")
    row = page.get_by_role("list", name="File").get_by_role("listitem")
    await expect(row).to_contain_text("P1")
    await expect(row).to_contain_text("Cambriolage")
    await expect(page).to_have_title("(1) Vigie — salle de commandement")
    await page.keyboard.press("Tab")  # into the page: the first control
    await row.focus()  # a row focused is selected
    for name in ("Acquitter", "Affecter", "Fusionner", "Clore", "Rejeter", "Envoyer l'avis"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    await axe_check(page)
    await citizen.close()


async def test_a_token_the_hub_refuses_sends_the_operator_to_sign_in(
    web_hub: WebHub, open_app: OpenApp
) -> None:
    forged = issue_token("not-the-hub-secret-" * 3, sub="op1", role="console", tenant="narbonne")
    page = await open_app("console", token=forged)
    await expect(page).to_have_url(re.compile(r"/signin\?role=console&next=%2Fconsole"))
