"""Browser tests: a real hub (dev mode, real Redis) and Debian's Chromium via Playwright.

Fixtures: `web_hub`, `browser`, `open_app`, `token`, `axe_check` (docs/web.md, "Browser
tests"); tests/conftest.py's `redis` and `redis_factory` work here too. Playwright's
async API, since the hub runs in the test's event loop; its objects belong to the loop
that made them. Starting Playwright's driver and Chromium
takes 2-4 s, more than most of these tests, so one Chromium serves the whole run (of
each pytest-xdist worker, under scripts/test): the tests here, and the async fixtures
they use, run in pytest-asyncio's session loop, and each test gets fresh browser
contexts (their own storage, cookies, service workers), all closed after it. Each test
still has its own hub and a flushed Redis.
Without /usr/bin/chromium the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from hub.config import Config
from hub.server.runner import RunningHub, running_hub
from tests.conftest import HubFactory, RedisFactory, redis_clients
from tests.wire import SECRET
from tests.wire import token as mint_token

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORTS = {"console": (1280, 800), "unit": (1280, 800), "app": (390, 844)}
ROLE_OF_APP = {"console": "console", "unit": "unit", "app": "citizen"}
BLOCKING_IMPACTS = ("serious", "critical")
# Loggers whose lines count as "the server's log": uvicorn's access and error logs
# and, through the root logger, the hub's own (vigie.*).
LOGGERS = ("uvicorn.access", "uvicorn.error", "")


# The event loop of every coroutine test here and of every async fixture it uses: the
# loop the shared Chromium's Playwright objects belong to (see the module docstring).
LOOP_SCOPE = "session"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/browser is a `browser` test; its coroutines run in LOOP_SCOPE.

    An async fixture in another loop would start its hub or client where the test cannot
    reach it, and the test would hang until its deadline: such a fixture fails the test
    at setup instead, with its name.
    """
    here = Path(__file__).resolve().parent
    misplaced: list[str] = []
    for item in items:
        if here not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if isinstance(item, pytest.Function) and pytest_asyncio.is_async_test(item):
            item.add_marker(pytest.mark.asyncio(loop_scope=LOOP_SCOPE), append=False)
            misplaced += [f"{item.nodeid}: {name}" for name in _fixtures_in_another_loop(item)]
    if misplaced:
        raise pytest.UsageError(
            f"async fixtures of browser tests must run in the {LOOP_SCOPE} loop "
            f'(@pytest_asyncio.fixture(loop_scope="{LOOP_SCOPE}")):\n' + "\n".join(misplaced)
        )


def _fixtures_in_another_loop(item: pytest.Function) -> list[str]:
    """The async fixtures `item` uses whose loop is not LOOP_SCOPE's (pytest-asyncio's
    default for a fixture is the ini's asyncio_default_fixture_loop_scope, "function")."""
    names = []
    for name, definitions in item._fixtureinfo.name2fixturedefs.items():
        func = definitions[-1].func  # the definition closest to the test, the one it gets
        is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
        if is_async and getattr(func, "_loop_scope", None) != LOOP_SCOPE:
            names.append(name)
    return names


def find_chromium(path: Path = CHROMIUM, env: Mapping[str, str] = os.environ) -> Path:
    """`path` if it exists; else skip the test, or fail it under CI=true."""
    if path.exists():
        return path
    message = f"{path} is missing: apt-get install chromium (never `playwright install`)"
    if env.get("CI") == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium: skip without it, except under CI where that is a failure."""
    return find_chromium()


@dataclass
class WebHub:
    """A hub in dev mode for browser tests, and every line its logs printed."""

    running: RunningHub
    redis_url: str
    secret: str = SECRET
    log_lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return self.running.http_url

    @property
    def ws_url(self) -> str:
        """ws://127.0.0.1:<port>/ws"""
        return self.running.ws_url


class _Recorder(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def web_hub(chromium: Path, redis_url: str, config: Config) -> AsyncIterator[WebHub]:
    """A hub in dev mode (sign-in page on) with the Narbonne config, access log recorded."""
    async with running_hub(config, redis_url, SECRET, dev=True) as running:
        hub = WebHub(running, redis_url)
        recorder = _Recorder(hub.log_lines)
        levels = {}
        for name in LOGGERS:
            logger = logging.getLogger(name)
            levels[name] = logger.level
            logger.setLevel(logging.INFO)  # running_hub sets uvicorn's to WARNING
            logger.addHandler(recorder)
        try:
            yield hub
        finally:
            for name in LOGGERS:
                logging.getLogger(name).removeHandler(recorder)
                logging.getLogger(name).setLevel(levels[name])


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def hub(hub_factory: HubFactory) -> AsyncIterator[RunningHub]:
    """One hub on the Narbonne config (tests/conftest.py's, started in LOOP_SCOPE's loop)."""
    async with hub_factory() as running:
        yield running


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def redis_factory(redis_url: str) -> AsyncIterator[RedisFactory]:
    """tests/conftest.py's asyncio Redis clients, opened and closed in LOOP_SCOPE's loop
    (the `redis` fixture uses this one here)."""
    async with redis_clients(redis_url) as factory:
        yield factory


class _Chromium:
    """Playwright's driver for the run, and the Chromium it launched: launched again if
    it went away (a crash would otherwise fail every test after it)."""

    def __init__(self, playwright: Playwright, executable: Path) -> None:
        self.playwright = playwright
        self.executable = executable
        self.launched: Browser | None = None

    async def get(self) -> Browser:
        if self.launched is None or not self.launched.is_connected():
            self.launched = await self.playwright.chromium.launch(
                executable_path=str(self.executable)
            )
        return self.launched

    async def close(self) -> None:
        if self.launched is not None and self.launched.is_connected():
            await self.launched.close()


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP_SCOPE)
async def _chromium_for_the_run(chromium: Path) -> AsyncIterator[_Chromium]:
    async with async_playwright() as playwright:
        shared = _Chromium(playwright, chromium)
        try:
            yield shared
        finally:
            await shared.close()


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def browser(_chromium_for_the_run: _Chromium) -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's), shared by the run; every context the test opened
    (each its own storage, cookies, service workers) is closed after it."""
    launched = await _chromium_for_the_run.get()
    try:
        yield launched
    finally:
        for context in launched.contexts:
            await context.close()


class TokenMaker(Protocol):
    def __call__(self, role: str, sub: str, tenant: str = "narbonne", ttl_s: int = 3600) -> str: ...


@pytest.fixture
def token() -> TokenMaker:
    """`token(role, sub, tenant="narbonne", ttl_s=3600)`: a JWT the test hubs accept."""
    return mint_token


class OpenApp(Protocol):
    def __call__(
        self,
        app: str,
        role: str | None = None,
        sub: str | None = None,
        *,
        lang: str = "en",
        viewport: tuple[int, int] | None = None,
        token: str | None = None,
        query: str = "",
        context: BrowserContext | None = None,
    ) -> Awaitable[Page]: ...


def _artifact_name(request: pytest.FixtureRequest, index: int, app: str) -> Path:
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    return ARTIFACTS / (f"{name}.png" if index == 0 else f"{name}-{index}-{app}.png")


def _record(page: Page) -> None:
    page.vigie_requests = []  # type: ignore[attr-defined]
    page.vigie_errors = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.vigie_requests.append(r.url))  # type: ignore[attr-defined]
    page.on("websocket", lambda ws: page.vigie_requests.append(ws.url))  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: m.type == "error" and page.vigie_errors.append(m.text),  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda e: page.vigie_errors.append(str(e)))  # type: ignore[attr-defined]


def foreign_requests(page: Page, base_url: str) -> list[str]:
    """Requests of the page to anything but the hub (data: and blob: URLs are local)."""
    hub = urlsplit(base_url).netloc
    return [
        url
        for url in page.vigie_requests  # type: ignore[attr-defined]
        if urlsplit(url).scheme not in ("data", "blob", "about") and urlsplit(url).netloc != hub
    ]


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def open_app(
    web_hub: WebHub, browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[OpenApp]:
    """`await open_app("console", "console", "op-1", lang="en")` → a Page on the app.

    Each call opens a new browser context (its own sessionStorage, IndexedDB, service
    worker) at `<hub>/<app>?lang=<lang><query>#token=<JWT>`. The page records
    `page.vigie_requests` (every URL, WebSockets included) and `page.vigie_errors`
    (console errors and uncaught exceptions). On teardown: a screenshot in
    test-artifacts/, and a failure if any request went to another host.
    """
    opened: list[tuple[str, Page]] = []

    async def _open(
        app: str,
        role: str | None = None,
        sub: str | None = None,
        *,
        lang: str = "en",
        viewport: tuple[int, int] | None = None,
        token: str | None = None,
        query: str = "",
        context: BrowserContext | None = None,
    ) -> Page:
        role = role or ROLE_OF_APP[app]
        jwt = token or mint_token(role, sub or f"{role}-1")
        width, height = viewport or VIEWPORTS.get(app, (1280, 800))
        if context is None:
            context = await browser.new_context(viewport={"width": width, "height": height})
        page = await context.new_page()
        _record(page)
        opened.append((app, page))
        await page.goto(f"{web_hub.base_url}/{app}?lang={lang}{query}#token={jwt}")
        return page

    yield _open
    ARTIFACTS.mkdir(exist_ok=True)
    foreign: list[str] = []
    for index, (app, page) in enumerate(opened):
        if not page.is_closed():
            try:
                await page.screenshot(path=str(_artifact_name(request, index, app)))
            except Exception as exc:  # a screenshot is a help, not the test
                logging.getLogger("tests.browser").warning("no screenshot: %s", exc)
        foreign += foreign_requests(page, web_hub.base_url)
    for context in {page.context for _, page in opened}:
        await context.close()
    assert not foreign, f"requests to hosts other than the hub: {foreign}"


AxeCheck = Callable[..., Awaitable[list[dict[str, Any]]]]


def _summary(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. "
        f"{v['nodes'][0]['target'] if v['nodes'] else '?'})"
        for v in violations
    )


@pytest.fixture
def axe_check() -> AxeCheck:
    """`await axe_check(page)`: fail on any serious or critical axe-core violation.

    Returns the minor and moderate violations, for a test that wants to look.
    """

    async def check(page: Page, context: Any = None) -> list[dict[str, Any]]:
        results = await Axe().run(page, context=context)
        violations: list[dict[str, Any]] = results.response["violations"]
        blocking = [v for v in violations if v.get("impact") in BLOCKING_IMPACTS]
        assert not blocking, f"axe-core on {page.url}:\n{_summary(blocking)}"
        return [v for v in violations if v not in blocking]

    return check


@pytest.fixture
def artifacts() -> Iterator[Path]:
    """The folder of screenshots and other test artifacts (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    yield ARTIFACTS
