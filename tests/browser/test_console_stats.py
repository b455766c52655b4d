"""The console's Statistics view in Chromium, on a history replayed through the hub's
scripts: the figures the API computes are the ones drawn, and the view is accessible."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from hub.demo.history import PastIncident, PastStep, replay
from tests.browser.conftest import AxeCheck, OpenApp, WebHub
from tests.browser.test_console import open_console

CENTRE = (43.1839, 3.0042)


def _history() -> list[PastIncident]:
    """Three noise incidents in three weeks, each acknowledged then closed: response 10 min."""
    now = datetime.now(ZoneInfo("Europe/Paris")).replace(hour=21, minute=0, second=0, microsecond=0)
    past = []
    for weeks in (1, 2, 3):
        at = int((now - timedelta(weeks=weeks)).timestamp() * 1000)
        steps = (PastStep("acknowledge", at + 120_000), PastStep("close", at + 600_000))
        past.append(PastIncident("noise", *CENTRE, at, steps))
    return past


async def test_statistics_view_draws_the_figures(
    web_hub: WebHub, open_app: OpenApp, axe_check: AxeCheck
) -> None:
    node = web_hub.running.node
    await replay(node.store, node.config, node.config.tenants["narbonne"], _history(), 1)
    page = await open_console(open_app)
    await page.get_by_role("button", name="Statistics").click()
    dialog = page.get_by_role("dialog", name="The town's statistics")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#stats-incidents")).to_have_text("3")
    await expect(page.locator("#stats-response-p50")).to_have_text("10 min")
    await expect(page.get_by_role("img", name="Histogram of response times")).to_be_visible()
    weekly = page.get_by_role("img", name="Incidents by hour of the week")
    await expect(weekly.locator("rect.heat-4")).to_have_count(1)  # one hour holds them all
    resolved = page.locator('#stats-stages tr[data-series="acknowledged"] td')
    await expect(resolved.nth(0)).to_have_text("3")
    # 120 s, drawn within the sketch's 1 %
    await expect(resolved.nth(1)).to_have_text(re.compile(r"^(1 min 5\d s|2 min( \d s)?)$"))
    await expect(page.locator("#stats-recurring li")).to_have_count(1)
    await expect(page.locator("#stats-recurring li")).to_contain_text("Noise")
    await expect(page.locator("#stats-recurring li")).to_contain_text("3 weeks")
    # A filter that keeps nothing.
    await page.get_by_label("Category").select_option("fire")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#stats-incidents")).to_have_text("0")
    assert await axe_check(page, "#stats-dialog") == []
    async with page.expect_download() as info:
        await page.get_by_role("button", name="CSV export").click()
    download = await info.value
    assert download.suggested_filename.endswith(".csv")
    assert not page.vigie_errors  # type: ignore[attr-defined]
