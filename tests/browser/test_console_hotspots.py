"""The console's hot spots on the map, in Chromium: the cells the hub's GeoJSON export
names are drawn under the incidents with their counts, and go when toggled off."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from hub.demo.history import PastIncident, PastStep, replay
from tests.browser.conftest import AxeCheck, OpenApp, WebHub
from tests.browser.test_console import open_console

CENTRE = (43.1839, 3.0042)
ELSEWHERE = (43.16, 3.16)  # Narbonne-Plage, another coarse cell


def _history() -> list[PastIncident]:
    """Noise at the centre in each of the last three weeks (it comes back), one theft elsewhere."""
    now = datetime.now(ZoneInfo("Europe/Paris")).replace(hour=21, minute=0, second=0, microsecond=0)
    past = []
    for weeks in (1, 2, 3):
        at = int((now - timedelta(weeks=weeks)).timestamp() * 1000)
        past.append(PastIncident("noise", *CENTRE, at, (PastStep("close", at + 600_000),)))
    at = int((now - timedelta(days=2)).timestamp() * 1000)
    past.append(PastIncident("theft", *ELSEWHERE, at, (PastStep("close", at + 600_000),)))
    return past


async def test_hot_spots_are_drawn_on_the_map_and_removed(
    web_hub: WebHub, open_app: OpenApp, axe_check: AxeCheck
) -> None:
    node = web_hub.running.node
    await replay(node.store, node.config, node.config.tenants["narbonne"], _history(), 1)
    page = await open_console(open_app)
    button = page.get_by_role("button", name="Hot spots")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "true")
    spots = page.locator(".leaflet-hotspots-pane path.hotspot")
    await expect(spots).to_have_count(2)
    centre = spots.and_(page.locator('[data-incidents="3"]'))
    await expect(centre).to_have_class("hotspot hotspot-s2 hotspot-recurring leaflet-interactive")
    await expect(centre.locator("title")).to_have_text("3 incidents · Noise: 3, week after week")
    other = spots.and_(page.locator('[data-incidents="1"]'))
    await expect(other.locator("title")).to_have_text("1 incident")
    await expect(page.locator("#hotspot-legend")).to_contain_text("10+")
    assert await axe_check(page) == []
    await button.click()
    await expect(button).to_have_attribute("aria-pressed", "false")
    await expect(spots).to_have_count(0)
    await expect(page.locator("#hotspot-legend")).to_have_count(0)
    assert not page.vigie_errors  # type: ignore[attr-defined]


async def test_hot_spots_follow_the_statistics_period(web_hub: WebHub, open_app: OpenApp) -> None:
    node = web_hub.running.node
    await replay(node.store, node.config, node.config.tenants["narbonne"], _history(), 1)
    page = await open_console(open_app)
    await page.get_by_role("button", name="Hot spots").click()
    spots = page.locator(".leaflet-hotspots-pane path.hotspot")
    await expect(spots).to_have_count(2)
    # The Statistics view's period: the last four days hold only the theft.
    await page.get_by_role("button", name="Statistics").click()
    today = datetime.now(ZoneInfo("Europe/Paris")).date()
    await page.locator("#stats-from").fill((today - timedelta(days=4)).isoformat())
    await page.get_by_role("button", name="Show").click()
    await expect(spots).to_have_count(1)
    await expect(spots.locator("title")).to_have_text("1 incident")


async def test_hot_spots_button_in_french(web_hub: WebHub, open_app: OpenApp) -> None:
    page = await open_app("console", "console", "op1", lang="fr")
    await expect(page.get_by_role("button", name="Points chauds")).to_have_attribute(
        "aria-pressed", "false"
    )
