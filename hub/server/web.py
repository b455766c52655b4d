"""The web apps: pages, static files, security headers and the dev sign-in.

The console (`/console`), the patrol tablet (`/unit`) and the citizen app
(`/app`) are plain files in `hub/web/static/` (package data), served on the
hub's own origin, so `/ws` and `/api` need no CORS. Every HTTP response gets
the Content-Security-Policy below: scripts, styles and connections from the
hub only, no inline scripts, no framing. Leaflet comes from `xstatic-leaflet`.

The sign-in page mints tokens for any role: it exists only in dev mode
(`vigie serve --dev`, the demo); elsewhere `/signin` is a 404, and real
deployments hand tokens over in the URL fragment (`#token=`) from their portal.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import xstatic.pkg.leaflet as xstatic_leaflet
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.config import Config
from hub.core.errors import ErrorCode
from hub.core.messages import ID_MAX, ROLES
from hub.core.tokens import issue_token
from hub.server.web_api import cells_at, cells_geometry, tenant_info

__all__ = [
    "APPS",
    "STATIC_DIR",
    "SecurityHeaders",
    "content_security_policy",
    "web_routes",
    "web_urls",
]

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
APPS = ("console", "unit", "app")
DEV_TOKEN_TTL_S = 12 * 3600  # a night shift
SIGNIN_BODY_MAX = 4096


def content_security_policy(config: Config) -> str:
    """The pages' CSP: the hub's origin only, plus configured tile servers for images."""
    tile_hosts = sorted({t.tiles.origin for t in config.tenants.values() if t.tiles is not None})
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            " ".join(["img-src 'self' data:", *tile_hosts]),
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


def _security_headers(csp: str) -> list[tuple[str, str]]:
    return [
        ("content-security-policy", csp),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("permissions-policy", "geolocation=(self), camera=(), microphone=()"),
        # Pages and modules revalidate (ETag) so an upgraded hub is seen at once.
        ("cache-control", "no-cache"),
    ]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (never on /ws)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = _security_headers(csp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _file(relative: str, **headers: str) -> Response:
    path = STATIC_DIR / relative
    if not path.is_file():
        return JSONResponse({"error": "not_found", "message": "no such page"}, status_code=404)
    return FileResponse(path, headers=headers or None)


def _page(app: str) -> Route:
    async def page(request: Request) -> Response:
        return _file(f"{app}/index.html")

    return Route(f"/{app}", page, methods=["GET", "HEAD"], name=f"page_{app}")


async def service_worker(request: Request) -> Response:
    """The citizen app's service worker, allowed to control all of /app."""
    return _file("app/sw.js", **{"service-worker-allowed": "/app"})


async def manifest(request: Request) -> Response:
    """The citizen app's web manifest (installable PWA)."""
    return _file("app/manifest.webmanifest", **{"content-type": "application/manifest+json"})


async def signin_page(request: Request) -> Response:
    """Dev mode only: the form that mints a token for a chosen role, id and tenant."""
    return _file("signin/index.html")


async def signin_tenants(request: Request) -> Response:
    """Dev mode only: the towns served, for the sign-in form."""
    tenants = request.app.state.node.tenants.values()
    return JSONResponse([{"id": rt.config.id, "name": rt.config.name} for rt in tenants])


def _bad(message: str, status: int = 400) -> Response:
    return JSONResponse({"error": ErrorCode.BAD_REQUEST, "message": message}, status_code=status)


async def _json_body(request: Request, limit: int) -> Any:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # A cross-site form cannot send JSON without a CORS preflight, which we never allow.
        raise ValueError("content-type must be application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ValueError(f"body over {limit} bytes")
    return orjson.loads(body)


async def signin(request: Request) -> Response:
    """Dev mode only: `{role, sub, tenant}` → `{token}` signed with the hub's secret."""
    try:
        body = await _json_body(request, SIGNIN_BODY_MAX)
    except (ValueError, ClientDisconnect) as exc:  # orjson.JSONDecodeError is a ValueError
        return _bad(f"a JSON object is required: {exc}"[:200])
    if not isinstance(body, dict):
        return _bad("a JSON object is required")
    role, sub, tenant = body.get("role"), body.get("sub"), body.get("tenant")
    if role not in ROLES:
        return _bad(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(sub, str) or not 0 < len(sub) <= ID_MAX or not sub.isprintable():
        return _bad(f"sub must be 1 to {ID_MAX} printable characters")
    if not isinstance(tenant, str) or tenant not in request.app.state.node.tenants:
        return _bad("unknown tenant")
    token = issue_token(
        request.app.state.secret, sub=sub, role=role, tenant=tenant, ttl_s=DEV_TOKEN_TTL_S
    )
    return JSONResponse({"token": token}, headers={"cache-control": "no-store"})


def web_routes(*, dev: bool) -> list[BaseRoute]:
    """The pages, static files and web API; `/signin` only when `dev`."""
    routes: list[BaseRoute] = [_page(app) for app in APPS]
    routes += [
        Route("/app/sw.js", service_worker, methods=["GET", "HEAD"]),
        Route("/app/manifest.webmanifest", manifest, methods=["GET", "HEAD"]),
        Route("/api/v1/tenant", tenant_info),
        Route("/api/v1/cells", cells_geometry),
        Route("/api/v1/cells/at", cells_at),
        Mount("/static/leaflet", StaticFiles(directory=xstatic_leaflet.BASE_DIR)),
        Mount("/static", StaticFiles(directory=STATIC_DIR)),
    ]
    if dev:
        routes += [
            Route("/signin", signin_page, methods=["GET", "HEAD"]),
            Route("/signin", signin, methods=["POST"]),
            Route("/signin/tenants", signin_tenants),
        ]
    return routes


def web_urls(
    base_url: str, secret: str, tenant: str, ids: Iterable[tuple[str, str]] | None = None
) -> str:
    """Lines to print: each app's URL with a dev token in its fragment (the demo's).

    The ids are not the demo's simulated ones (`u-web` is a unit of its own), so
    opening a page does not take over a simulated patrol.
    """
    ids = ids or (("console", "operator-web"), ("unit", "u-web"), ("app", "c-web"))
    lines = ["vigie demo: open the web apps (dev tokens, valid 12 h):"]
    for app, sub in ids:
        role = "citizen" if app == "app" else app
        token = issue_token(secret, sub=sub, role=role, tenant=tenant, ttl_s=DEV_TOKEN_TTL_S)
        lines.append(f"  {app:<8} {base_url}/{app}#token={token}")
    return "\n".join(lines)
