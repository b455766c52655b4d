"""Pure JS modules, unit-tested in Chromium: every `tests/browser/*_test.mjs`.

A test file is an ES module exporting `test_*` functions (sync or async) that throw
on failure. It is loaded from `<hub>/__tests__/<path from the repo root>`, served
by Playwright from the working tree, so its relative imports
(`../../hub/web/static/unit/state.js`) and theirs resolve as on disk. Each file is
one pytest test; the failure message names every failing function.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Route

from tests.browser.conftest import ROOT, WebHub

TEST_FILES = sorted(Path(__file__).resolve().parent.glob("*_test.mjs"))
SERVED = (ROOT / "tests", ROOT / "hub" / "web" / "static")
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".json": "application/json"}

RUN_MODULE = """async (url) => {
  const module = await import(url);
  const results = [];
  for (const [name, fn] of Object.entries(module)) {
    if (!name.startsWith('test') || typeof fn !== 'function') continue;
    try {
      await fn();
      results.push([name, null]);
    } catch (error) {
      results.push([name, String((error && error.stack) || error)]);
    }
  }
  return results;
}"""


async def _serve_tree(route: Route) -> None:
    relative = route.request.url.split("/__tests__/", 1)[1].split("?", 1)[0]
    path = (ROOT / relative).resolve()
    if relative == "runner.html":
        await route.fulfill(body="<!doctype html><title>js tests</title>", content_type="text/html")
    elif any(base in path.parents for base in SERVED) and path.is_file():
        await route.fulfill(path=path, content_type=TYPES.get(path.suffix, "text/plain"))
    else:
        await route.fulfill(status=404, body="not served to tests")


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[p.name for p in TEST_FILES])
async def test_js_module(test_file: Path, web_hub: WebHub, browser: Browser) -> None:
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.route(f"{web_hub.base_url}/__tests__/**", _serve_tree)
    await page.goto(f"{web_hub.base_url}/__tests__/runner.html")
    url = f"{web_hub.base_url}/__tests__/{test_file.relative_to(ROOT)}"
    results = await page.evaluate(RUN_MODULE, url)
    failed = [f"{name}: {error}" for name, error in results if error]
    assert results, f"{test_file.name} exports no test_* function"
    assert not failed, f"{len(failed)} of {len(results)} failed:\n" + "\n".join(failed)
    assert not errors, f"uncaught errors: {errors}"
