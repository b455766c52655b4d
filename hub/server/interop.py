"""HTTP endpoints that speak the field's standards (docs/interop.md).

- `GET /api/v1/notices/{id}.cap.xml`: a current notice as a CAP 1.2 alert;
- `GET /api/v1/notices.atom`: the Atom feed of the current notices;
- `GET /api/v1/incidents/{id}/eido`: an incident as a NENA EIDO document.

The notice documents are public (no token): a notice is text an operator
published for residents, and CAP feeds exist to be relayed by public alerting
channels. A hub serving several towns needs `?tenant=<id>` on them. The EIDO
document is for consoles only (bearer token, like `GET /api/v1/incidents/{id}`):
it carries exact positions and the trail. Errors are `{"error", "message"}`.
"""

from __future__ import annotations

import re
import time
from typing import Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.config import TenantConfig
from hub.core.cap import CAP_CONTENT_TYPE, Issuer, cap_xml
from hub.core.cap_feed import ATOM_CONTENT_TYPE, notices_feed
from hub.core.eido import EidoSource, incident_eido, merge_links
from hub.server.bearer import Refused, caller
from hub.server.handlers import now_ms
from hub.server.node import Node, TenantRuntime
from hub.store.notices import NoticeStore

__all__ = ["eido_source", "interop_routes", "issuer"]

NOTICE_ID: Final = re.compile(r"nt[0-9]{1,18}")
INCIDENT_ID: Final = re.compile(r"in[0-9]{1,18}")
TENANT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
FEED_MAX: Final = 200  # newest current notices in the feed
# The feed is public: a rendered feed is reused for a few seconds, so a flood of
# requests costs one Redis read and one rendering per town per period, not one each.
FEED_REUSE_S: Final = 5.0
FEED_CACHE_MAX: Final = 32  # (town, address) pairs kept; the oldest goes first
EIDO_CONTENT_TYPE: Final = "application/json"


def issuer(cfg: TenantConfig) -> Issuer:
    """The CAP issuer of a town, from its configuration."""
    return Issuer(
        tenant=cfg.id,
        town=cfg.name,
        sender=cfg.cap_sender or f"vigie@{cfg.id}.invalid",
        language=cfg.language,
        timezone=cfg.timezone,
        sectors={n: s.cell for n, s in cfg.sectors.items()},
    )


def eido_source(cfg: TenantConfig) -> EidoSource:
    """The EIDO sending agency of a town, from its configuration."""
    return EidoSource(
        agency=cfg.eido_agency or f"{cfg.id}.invalid",
        timezone=cfg.timezone,
        category_labels={
            cid: c.label_fr if cfg.language == "fr" else c.label_en
            for cid, c in cfg.categories.items()
        },
    )


def _public_tenant(request: Request) -> TenantRuntime:
    node: Node = request.app.state.node
    asked = request.query_params.get("tenant")
    if asked is None:
        if len(node.tenants) != 1:
            raise Refused(400, "bad_request", "tenant: required (this hub serves several towns)")
        return next(iter(node.tenants.values()))
    if not TENANT_ID.fullmatch(asked):
        raise Refused(400, "bad_request", "tenant: 1..64 letters, digits, '-' or '_'")
    rt = node.tenants.get(asked)
    if rt is None:
        raise Refused(404, "not_found", "no such tenant")
    return rt


async def _console_tenant(request: Request) -> TenantRuntime:
    return (await caller(request, "console"))[1]


def _id(request: Request, name: str, form: re.Pattern[str]) -> str:
    value = str(request.path_params[name])
    if not form.fullmatch(value):
        raise Refused(400, "bad_request", f"{name}: not a {name} id")
    return value


def _address(request: Request, route: str, **params: str) -> str:
    url = request.url_for(route, **params)
    if "tenant" in request.query_params:  # keep the town in every link of a shared hub
        url = url.include_query_params(tenant=request.query_params["tenant"])
    return str(url)


async def notice_cap(request: Request) -> Response:
    """A current notice as a CAP 1.2 alert (public)."""
    try:
        rt = _public_tenant(request)
        notice_id = _id(request, "notice", NOTICE_ID)
    except Refused as refused:
        return refused.response()
    notice = await NoticeStore(request.app.state.node.store.redis).get(rt.keys, notice_id)
    if notice is None:
        return Refused(404, "not_found", "no such notice (or it has expired)").response()
    return Response(
        cap_xml(notice, issuer(rt.config)),
        media_type=CAP_CONTENT_TYPE,
        headers={"Cache-Control": "public, max-age=60"},
    )


class FeedCache:
    """Rendered feeds by (town, feed address), reused for FEED_REUSE_S; bounded (FIFO)."""

    def __init__(self) -> None:
        self._feeds: dict[tuple[str, str], tuple[float, bytes]] = {}

    def get(self, key: tuple[str, str]) -> bytes | None:
        """The feed rendered less than FEED_REUSE_S ago, if any."""
        found = self._feeds.get(key)
        if found is None or time.monotonic() - found[0] > FEED_REUSE_S:
            return None
        return found[1]

    def put(self, key: tuple[str, str], body: bytes) -> None:
        """Keep a rendered feed, dropping the oldest beyond FEED_CACHE_MAX."""
        self._feeds.pop(key, None)
        self._feeds[key] = (time.monotonic(), body)
        while len(self._feeds) > FEED_CACHE_MAX:
            del self._feeds[next(iter(self._feeds))]


async def _render_feed(request: Request, rt: TenantRuntime, feed_url: str) -> bytes:
    now = now_ms()
    notices = await NoticeStore(request.app.state.node.store.redis).current(rt.keys, now, FEED_MAX)
    return notices_feed(
        notices,
        issuer(rt.config),
        feed_url=feed_url,
        cap_url=lambda nid: _address(request, "notice_cap", notice=nid),
        now_ms=now,
    )


async def notices_atom(request: Request) -> Response:
    """The Atom feed of current notices, newest first (public)."""
    try:
        rt = _public_tenant(request)
    except Refused as refused:
        return refused.response()
    state = request.app.state
    if not hasattr(state, "feed_cache"):  # made on first use: app.py stays as it is
        state.feed_cache = FeedCache()
    feed_url = _address(request, "notices_atom")
    key = (rt.config.id, feed_url)
    body = state.feed_cache.get(key)
    if body is None:
        body = await _render_feed(request, rt, feed_url)
        state.feed_cache.put(key, body)
    return Response(
        body, media_type=ATOM_CONTENT_TYPE, headers={"Cache-Control": "public, max-age=30"}
    )


async def eido(request: Request) -> Response:
    """An incident as a NENA EIDO JSON document (consoles of its tenant)."""
    try:
        rt = await _console_tenant(request)
        incident_id = _id(request, "incident", INCIDENT_ID)
    except Refused as refused:
        return refused.response()
    node: Node = request.app.state.node
    found = await node.dispatch.incident(rt.keys, incident_id)
    if found is None:
        return Refused(404, "not_found", "no such incident").response()
    incident, history = found
    reports = await node.dispatch.reports(rt.keys, incident_id)
    states = {unit_id: info.status for unit_id, info in rt.board.items()}
    linked: dict[str, int] = {}
    for other in merge_links(incident, history):
        found = await node.dispatch.incident(rt.keys, other)
        if found is not None:
            linked[other] = int(found[0]["opened_at"])
    document = incident_eido(eido_source(rt.config), incident, history, reports, states, linked)
    return Response(orjson.dumps(document), media_type=EIDO_CONTENT_TYPE)


def interop_routes() -> list[Route]:
    """The routes of this module, for the app's route table."""
    return [
        Route("/api/v1/notices.atom", notices_atom, name="notices_atom"),
        Route("/api/v1/notices/{notice}.cap.xml", notice_cap, name="notice_cap"),
        Route("/api/v1/incidents/{incident}/eido", eido, name="incident_eido"),
    ]
