"""Serving the web apps: security headers, no inline code, tokens kept out of URLs and logs.

HTTP-only checks use a plain hub (no browser needed); the rest drive Chromium.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route

from hub.server.runner import RunningHub
from hub.server.web import APPS, STATIC_DIR
from tests.browser.conftest import AxeCheck, OpenApp, TokenMaker, WebHub, find_chromium

PAGES = [f"/{app}" for app in APPS]
STATIC_FILES = sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())
HTML_FILES = sorted(STATIC_DIR.rglob("*.html"))
LEAFLET = [
    "/static/leaflet/leaflet.js",
    "/static/leaflet/leaflet.css",
    "/static/leaflet/images/marker-icon.png",
]
SECURITY_HEADERS = {
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


@pytest_asyncio.fixture(loop_scope="session")
async def http(hub: RunningHub) -> Any:
    async with httpx.AsyncClient(base_url=hub.http_url, timeout=5) as client:
        yield client


def assert_secured(reply: httpx.Response) -> None:
    csp = reply.headers.get("content-security-policy", "")
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp, (reply.url, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == value, (reply.url, name)


# -- without Chromium: skip with the install command, except under CI -------------------


def test_no_chromium_skips_with_the_install_command() -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        find_chromium(Path("/nonexistent/chromium"), {})


def test_no_chromium_under_ci_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"CI=true and .* apt-get install chromium"):
        find_chromium(Path("/nonexistent/chromium"), {"CI": "true"})


# -- HTTP: headers on everything, the right files and types -----------------------------


async def test_every_page_and_static_file_has_the_csp(http: httpx.AsyncClient) -> None:
    paths = [*PAGES, "/app/sw.js", "/app/manifest.webmanifest", *LEAFLET]
    paths += [f"/static/{p.relative_to(STATIC_DIR).as_posix()}" for p in STATIC_FILES]
    for path in paths:
        reply = await http.get(path)
        assert reply.status_code == 200, path
        assert_secured(reply)
    for path in ["/api/v1/tenant", "/healthz", "/static/nothing.js", "/nothing"]:
        assert_secured(await http.get(path))  # errors and the API too


async def test_pages_are_the_apps_index(http: httpx.AsyncClient) -> None:
    for app in APPS:
        reply = await http.get(f"/{app}")
        assert reply.headers["content-type"].startswith("text/html")
        assert f'src="/static/{app}/main.js"' in reply.text
        assert reply.headers["cache-control"] == "no-cache"  # an upgraded hub is seen at once


async def test_modules_have_a_javascript_type(http: httpx.AsyncClient) -> None:
    for path in ["/static/shared/connection.js", "/static/leaflet/leaflet.js"]:
        reply = await http.get(path)
        assert reply.headers["content-type"].startswith("text/javascript"), path


async def test_service_worker_and_manifest(http: httpx.AsyncClient) -> None:
    worker = await http.get("/app/sw.js")
    assert worker.headers["service-worker-allowed"] == "/app"
    assert worker.headers["cache-control"] == "no-cache"
    assert worker.headers["content-type"].startswith("text/javascript")
    manifest = await http.get("/app/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert "name" in manifest.json()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../config.py",
        "/static/%2e%2e/config.py",
        "/static/shared/../../server/web.py",
        "/static/shared/",
        "/static/leaflet/../leaflet/../../../../etc/passwd",
        "/console/../hub/config.py",
    ],
)
async def test_nothing_outside_the_static_folders(http: httpx.AsyncClient, path: str) -> None:
    reply = await http.get(path)
    assert reply.status_code == 404, path
    assert "import" not in reply.text and "root:" not in reply.text


# -- the pages' markup: no inline code anywhere -------------------------------------------


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        where = f"line {self.getpos()[0]} <{tag}>"
        if tag == "script" and "src" not in names:
            self.problems.append(f"{where}: inline script")
        if tag == "style":
            self.problems.append(f"{where}: <style> element")
        for name, value in names.items():
            if name.startswith("on"):
                self.problems.append(f"{where}: handler attribute {name}")
            if name == "style":
                self.problems.append(f"{where}: style attribute")
            if value.strip().lower().startswith("javascript:"):
                self.problems.append(f"{where}: javascript: URL in {name}")
        self._in_script = tag == "script" and "src" in names

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"line {self.getpos()[0]}: code inside <script src>")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_html_files_exist() -> None:
    names = {p.relative_to(STATIC_DIR).as_posix() for p in HTML_FILES}
    assert {f"{app}/index.html" for app in APPS} <= names


@pytest.mark.parametrize("page", HTML_FILES, ids=lambda p: p.relative_to(STATIC_DIR).as_posix())
def test_no_inline_script_handler_or_style(page: Path) -> None:
    finder = _InlineFinder()
    finder.feed(page.read_text(encoding="utf-8"))
    assert not finder.problems, f"{page}: {finder.problems}"


def test_the_inline_finder_finds_them() -> None:
    finder = _InlineFinder()
    finder.feed(
        '<script>alert(1)</script><p onclick="x()" style="color:red"><style>p{}</style>'
        '<a href="javascript:alert(1)">x</a><script src="/a.js">alert(2)</script>'
    )
    assert len(finder.problems) == 6, finder.problems


JS_FILES = sorted(STATIC_DIR.rglob("*.js"))
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"createContextualFragment|setAttribute\(\s*['\"](on\w+|style)['\"]"
)


@pytest.mark.parametrize("module", JS_FILES, ids=lambda p: p.relative_to(STATIC_DIR).as_posix())
def test_no_html_sink_in_any_module(module: Path) -> None:
    """Untrusted texts reach pages as text: no module parses HTML or code from strings."""
    found = [
        f"line {n}: {line.strip()}"
        for n, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1)
        if HTML_SINKS.search(line)
    ]
    assert not found, found


def test_the_sink_finder_finds_them() -> None:
    lines = [
        "el.innerHTML = text",
        "el.outerHTML += x",
        "el.insertAdjacentHTML('beforeend', x)",
        "eval(code)",
        "new Function('a', body)",
        "el.setAttribute('onclick', x)",
        'el.setAttribute("style", x)',
    ]
    assert all(HTML_SINKS.search(line) for line in lines)
    assert not HTML_SINKS.search("el.textContent = text; el.style.left = '3px'")


# -- in Chromium: the token stays out of the address bar and of the server ---------------


async def token_taken(page: Page) -> None:
    await page.wait_for_function("() => !location.hash.includes('token=')", timeout=10_000)


@pytest.mark.parametrize("app", APPS)
async def test_token_leaves_the_address_bar_and_never_reaches_the_hub(
    app: str, web_hub: WebHub, open_app: OpenApp, token: TokenMaker
) -> None:
    jwt = token({"app": "citizen"}.get(app, app), f"{app}-token-test")
    page = await open_app(app, token=jwt)
    await token_taken(page)
    await page.wait_for_load_state("networkidle")
    assert "token" not in page.url and jwt not in page.url
    assert await page.evaluate("sessionStorage.getItem('vigie.token')") == jwt
    # The hub's own log printed the page's requests (so the check below looks at
    # something real) and none of them, nor any request the page made, holds the token.
    assert any(f"GET /{app}?lang=en" in line for line in web_hub.log_lines), web_hub.log_lines
    assert not [line for line in web_hub.log_lines if jwt in line]
    assert not [url for url in page.vigie_requests if jwt in url]  # type: ignore[attr-defined]


async def test_history_keeps_no_token(
    web_hub: WebHub, open_app: OpenApp, token: TokenMaker
) -> None:
    jwt = token("console", "history-test")
    page = await open_app("console", token=jwt)
    await token_taken(page)
    await page.goto(f"{web_hub.base_url}/static/shared/theme.css")
    await page.go_back()
    assert jwt not in page.url


# -- Leaflet under the CSP -----------------------------------------------------------------

LEAFLET_PAGE = """<!doctype html><html lang="en"><head><title>map</title>
<link rel="stylesheet" href="/static/leaflet/leaflet.css">
<link rel="stylesheet" href="/static/shared/theme.css">
<script src="/static/leaflet/leaflet.js"></script>
<script type="module" src="/__leaflet__/map.js"></script></head>
<body><main><div id="map"></div></main></body></html>"""

LEAFLET_MODULE = """
window.violations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
const el = document.getElementById('map');
el.classList.add('test-map');
const map = L.map(el).setView([43.18, 3.0], 13);
L.polygon([[43.17, 2.99], [43.19, 2.99], [43.19, 3.01]], { color: '#ff5c5c' })
  .addTo(map).bindTooltip('P1');
L.marker([43.18, 3.0]).addTo(map);
L.circleMarker([43.175, 3.005], { radius: 8 }).addTo(map);
L.marker([43.185, 3.0], { icon: L.divIcon({ className: 'unit', html: '' }) }).addTo(map);
map.setZoom(14);
window.mapReady = true;
"""


async def test_leaflet_runs_under_the_hubs_csp(web_hub: WebHub, browser: Browser) -> None:
    """Leaflet positions elements through el.style (CSSOM), which style-src allows."""
    async with httpx.AsyncClient() as client:
        csp = (await client.get(f"{web_hub.base_url}/console")).headers["content-security-policy"]

    async def serve(route: Route) -> None:
        if route.request.url.endswith("/map.js"):
            await route.fulfill(body=LEAFLET_MODULE, content_type="text/javascript")
        else:
            headers = {"content-security-policy": csp}
            await route.fulfill(body=LEAFLET_PAGE, content_type="text/html", headers=headers)

    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.route(f"{web_hub.base_url}/__leaflet__/**", serve)
    await page.goto(f"{web_hub.base_url}/__leaflet__/index.html")
    # Predicates as functions, never bare expressions: on a page whose CSP has no
    # 'unsafe-eval', Playwright polls an expression with eval(), which the page refuses
    # once the first check was false (a slow machine); a function is compiled once.
    await page.wait_for_function("() => window.mapReady === true", timeout=10_000)
    await page.mouse.wheel(0, -200)
    await page.wait_for_timeout(300)
    assert await page.evaluate("window.violations") == []
    assert errors == []
    assert await page.locator(".leaflet-interactive").count() >= 2  # the polygon and circle drawn


# -- dev sign-in in the browser ----------------------------------------------------------


async def test_sign_in_page_hands_a_token_to_the_app(
    web_hub: WebHub, browser: Browser, axe_check: AxeCheck
) -> None:
    page = await browser.new_page()
    await page.goto(f"{web_hub.base_url}/signin?role=unit&next=%2Funit%3Flang%3Den&lang=en")
    await page.get_by_label("Identifier").fill("u-signin")
    await page.wait_for_function("() => document.querySelector('#tenant').options.length > 0")
    await axe_check(page)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{web_hub.base_url}/unit?lang=en**")
    await page.wait_for_function("() => !location.hash.includes('token=')", timeout=10_000)
    stored = await page.evaluate("sessionStorage.getItem('vigie.token')")
    claims = await page.evaluate(
        "(t) => JSON.parse(atob(t.split('.')[1].replace(/-/g,'+').replace(/_/g,'/')))", stored
    )
    assert (claims["role"], claims["sub"], claims["tenant"]) == ("unit", "u-signin", "narbonne")
    assert not [line for line in web_hub.log_lines if stored in line]


async def test_sign_in_never_sends_to_another_site(web_hub: WebHub, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{web_hub.base_url}/signin?role=console&next=//example.org/x&lang=en")
    await page.wait_for_function("() => document.querySelector('#tenant').options.length > 0")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{web_hub.base_url}/console**")


@pytest.mark.parametrize(
    ("app", "role"), [("console", "console"), ("unit", "unit"), ("app", "citizen")]
)
async def test_an_app_without_a_token_sends_to_sign_in_in_dev_mode(
    web_hub: WebHub, browser: Browser, app: str, role: str
) -> None:
    page = await browser.new_page()
    await page.goto(f"{web_hub.base_url}/{app}?lang=en")
    await page.wait_for_url(f"{web_hub.base_url}/signin?role={role}&next=%2F{app}%3Flang%3Den")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{web_hub.base_url}/{app}?lang=en")  # the fragment is gone again
    assert await page.evaluate("sessionStorage.getItem('vigie.token')")


async def test_an_app_without_a_token_says_signed_out_outside_dev_mode(
    hub: RunningHub, browser: Browser, token: TokenMaker
) -> None:
    page = await browser.new_page()
    await page.goto(f"{hub.http_url}/console?lang=en")
    await page.get_by_role("alert").filter(has_text="Signed out").wait_for()
    assert "/signin" not in page.url
    # A token of another role is no better.
    await page.goto(f"{hub.http_url}/console?lang=en#token={token('unit', 'u1')}")
    await page.reload()
    await page.get_by_role("alert").filter(has_text="Signed out").wait_for()
