"""Open311 GeoReport v2 over HTTP (`/open311/v2/`): bytes in, bytes out.

The mapping is hub/core/open311.py; a posted request goes through the same
`store_alert` as a citizen's alert (handlers.py). Every answer is in the
format the path names (`.json` or `.xml`), errors included, in the spec's
shape (`[{"code", "description"}]`, `<errors><error>`). The hub parses no XML:
requests come as `application/x-www-form-urlencoded`, as the spec says.

The GETs are public reads: any origin may read them from a browser (CORS
`*`, no credentials), and each client address has a token bucket
(`[open311] get_rate_limit`), since `GET requests` may scan 10,000 index
entries in the Redis the dispatch path needs. POSTs get no CORS allowance.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from redis.exceptions import RedisError, ResponseError
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.config import Config, Open311Partner, Open311Settings
from hub.core import open311
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.open311_format import CONTENT_TYPES, render
from hub.core.open311_input import (
    LIMIT,
    Open311Error,
    PostedRequest,
    RequestQuery,
    parse_post,
    parse_query,
    rows_in,
)
from hub.core.ratelimit import BucketTable, client_key
from hub.core.supervision import Fault
from hub.server.handlers import now_ms, store_alert
from hub.server.node import Node, TenantRuntime
from hub.server.supervision import classify
from hub.store.replication import NotReplicatedError
from hub.store.requests import RequestStore
from hub.store.store import Intake

__all__ = ["open311_mount"]

log = logging.getLogger("vigie.open311")

BODY_MAX = 64 * 1024  # a form with a 1,000-character description is ~10 KiB encoded
FIELDS_MAX = 200
SCAN_BATCH = 500  # ids read per round trip while filtering GET requests
SCAN_MAX = 10_000  # a GET requests reads at most this many index entries
RETRY_AFTER_S = 2
# Client addresses with a GET bucket, per process (~250 bytes each): past it the
# address idle longest is forgotten (hub.core.ratelimit.BucketTable).
GET_CLIENTS_MAX = 10_000
READ_METHODS = ("GET", "HEAD")  # the public reads: CORS allowed, limited per client
PUBLIC_METHODS = (*READ_METHODS, "OPTIONS")  # OPTIONS: the browsers' preflights
# ProtocolError codes of store_alert → HTTP status. Rate limits and outages are
# not in the spec's list: 429 and 503 with Retry-After tell a client to retry.
STATUS_FOR: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.TOO_LARGE: 400,
    ErrorCode.OUT_OF_AREA: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}

Handler = Callable[[Request, str], Awaitable[Response]]


def _answer(root: str, value: Any, fmt: str, status: int = 200, **headers: str) -> Response:
    return Response(
        render(root, value, fmt), status, headers=headers, media_type=CONTENT_TYPES[fmt]
    )


def _error(exc: Open311Error, fmt: str) -> Response:
    headers = {}
    if exc.retry_after_s is not None:
        # Rounded up: a client that waits exactly this long finds a token back.
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return _answer("errors", exc.errors, fmt, exc.status, **headers)


def _endpoint(handler: Handler, gets: BucketTable) -> Callable[[Request], Awaitable[Response]]:
    """Run `handler` with the path's format; every failure answers in that format.

    A GET first takes a token from its client's bucket in `gets`.
    """

    async def endpoint(request: Request) -> Response:
        default = "json" if request.url.path.endswith(".json") else "xml"
        fmt = request.path_params.get("fmt", default)
        known = fmt in CONTENT_TYPES
        if request.method in READ_METHODS and (refused := _over_limit(request, gets)):
            return _error(refused, fmt if known else "xml")  # every GET counts, errors too
        if not known:
            return _error(Open311Error(404, "formats are .xml and .json"), "xml")
        try:
            return await handler(request, fmt)
        except Open311Error as exc:
            return _error(exc, fmt)
        except ResponseError as exc:
            if classify(exc) is Fault.OUTAGE:  # a demoted primary, replicas too slow
                return _error(_unavailable(request, exc), fmt)
            log.exception("Redis refused an Open311 %s %s", request.method, request.url.path)
            return _error(Open311Error(500, "internal error; the hub logged it"), fmt)
        except (RedisError, OSError, TimeoutError) as exc:
            return _error(_unavailable(request, exc), fmt)
        except Exception:
            log.exception("Open311 %s %s failed", request.method, request.url.path)
            return _error(Open311Error(500, "internal error; the hub logged it"), fmt)

    return endpoint


def _over_limit(request: Request, gets: BucketTable) -> Open311Error | None:
    """A 429 when the client's address has no token left for a GET, else None."""
    # The address uvicorn gives: X-Forwarded-For only from the proxies it trusts
    # (FORWARDED_ALLOW_IPS, docs/deploy.md); the header itself is never read here.
    address = request.client.host if request.client else ""
    wait_s = gets.take(client_key(address), time.monotonic())  # an IPv6 /64 is one client
    if wait_s <= 0:
        return None
    _node(request).metrics.open311_get_limited += 1
    return Open311Error(
        429, "too many requests from this address; retry later", retry_after_s=wait_s
    )


def _unavailable(request: Request, exc: BaseException) -> Open311Error:
    log.warning("Open311 %s: Redis unavailable: %s", request.method, exc)
    if isinstance(exc, NotReplicatedError):
        text = "not confirmed by a replica in time; retry with the same request"
    else:
        text = "storage unavailable, nothing was stored; retry"
    return Open311Error(503, text, retry_after_s=RETRY_AFTER_S)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _tenant(node: Node, jurisdiction: str) -> TenantRuntime:
    """The town a request is for: by jurisdiction_id, optional while only one has Open311."""
    served = [rt for rt in node.tenants.values() if rt.config.open311 is not None]
    if jurisdiction:
        for rt in served:
            assert rt.config.open311 is not None
            if rt.config.open311.jurisdiction_id == jurisdiction:
                return rt
        raise Open311Error(404, f"jurisdiction_id {jurisdiction[:64]!r} not found")
    if len(served) == 1:
        return served[0]
    if not served:
        raise Open311Error(404, "no jurisdiction has an Open311 endpoint here")
    raise Open311Error(400, "jurisdiction_id is required: this endpoint serves several")


def _query(request: Request) -> dict[str, str]:
    # "can be declared multiple times, comma delimited": both forms become one list.
    params = request.query_params
    return {key: ",".join(params.getlist(key)) for key in params}


# -- the documents ----------------------------------------------------------------


async def discovery(request: Request, fmt: str) -> Response:
    """GET discovery.{fmt}."""
    rt = _tenant(_node(request), _query(request).get("jurisdiction_id", ""))
    url = str(request.url_for("open311", path="")).rstrip("/")
    return _answer("discovery", open311.discovery(rt.config, url), fmt)


async def service_list(request: Request, fmt: str) -> Response:
    """GET services.{fmt}."""
    rt = _tenant(_node(request), _query(request).get("jurisdiction_id", ""))
    return _answer("services", open311.services(rt.config), fmt)


async def service_definition(request: Request, fmt: str) -> Response:
    """GET services/{code}.{fmt}."""
    rt = _tenant(_node(request), _query(request).get("jurisdiction_id", ""))
    code = request.path_params["code"]
    return _answer("service_definition", open311.service_definition(rt.config, code), fmt)


# -- POST requests ----------------------------------------------------------------


async def _form(request: Request) -> list[tuple[str, str]]:
    """The urlencoded body as pairs (repeated keys kept); 400 for anything else."""
    mime, _, params = request.headers.get("content-type", "").partition(";")
    if mime.strip().lower() != "application/x-www-form-urlencoded":
        raise Open311Error(400, "expected a body of type application/x-www-form-urlencoded")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if params.strip() and charset not in ("utf-8", "utf8"):
        raise Open311Error(400, "the body must be UTF-8")
    too_large = Open311Error(400, f"the body is larger than {BODY_MAX} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_MAX:  # the server checked its form
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_MAX:
            raise too_large
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=FIELDS_MAX,
            encoding="utf-8", errors="strict",
        )  # fmt: skip
    except UnicodeDecodeError as exc:
        raise Open311Error(400, "the body is not UTF-8") from exc
    except ValueError as exc:
        raise Open311Error(400, f"more than {FIELDS_MAX} fields") from exc


def _first(pairs: list[tuple[str, str]], key: str) -> str:
    return next((value.strip() for k, value in pairs if k == key), "")


def _partner(settings: Open311Settings | None, api_key: str) -> Open311Partner:
    """The partner whose key this is; 403 in the spec's words otherwise."""
    if not api_key:
        raise Open311Error(403, "api_key is required -- can't proceed with create_request.")
    found = None
    partners: Mapping[str, Open311Partner] = settings.partners if settings else {}
    for partner in partners.values():
        # Compare with every key, in constant time: no timing tells which is close.
        if partner.api_key and hmac.compare_digest(partner.api_key.encode(), api_key.encode()):
            found = partner
    if found is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    return found


def _intake(rt: TenantRuntime, partner: Open311Partner, posted: PostedRequest) -> Intake:
    rate = partner.rate_limit
    return Intake(
        channel=f"open311:{partner.name}",
        rate=(rate.count, rate.per_s),
        index_retention_ms=rt.config.retention.open311_days * 86_400_000,
        fields=open311.alert_fields(partner.name, posted),
    )


async def post_request(request: Request, fmt: str) -> Response:
    """POST requests.{fmt}: the request becomes an alert, like a citizen's."""
    node = _node(request)
    pairs = await _form(request)
    jurisdiction = _first(pairs, "jurisdiction_id") or _query(request).get("jurisdiction_id", "")
    rt = _tenant(node, jurisdiction)
    partner = _partner(rt.config.open311, _first(pairs, "api_key"))
    posted = parse_post(pairs, rt.config)
    reporter = open311.reporter_of(partner.name, posted, request.app.state.secret.encode())
    try:
        stored = await store_alert(
            node, rt, reporter, open311.to_alert(posted), _intake(rt, partner, posted)
        )
    except ProtocolError as exc:
        status = STATUS_FOR.get(exc.code, 400)
        raise Open311Error(status, exc.message, retry_after_s=exc.retry_after_s) from exc
    return _answer("service_requests", [open311.posted_row(stored.alert)], fmt)


# -- GET requests -----------------------------------------------------------------


async def _rows(store: RequestStore, rt: TenantRuntime, ids: list[str]) -> list[dict[str, Any]]:
    return [open311.request_row(a, i, rt.config) for a, i in await store.rows(rt.keys, ids)]


async def _scan(
    store: RequestStore, rt: TenantRuntime, query: RequestQuery
) -> list[dict[str, Any]]:
    """Newest first through the index, filtered, until LIMIT rows or SCAN_MAX entries."""
    found: list[dict[str, Any]] = []
    for offset in range(0, SCAN_MAX, SCAN_BATCH):
        ids = await store.newest_between(rt.keys, query.start_ms, query.end_ms, offset, SCAN_BATCH)
        found += rows_in(await _rows(store, rt, ids), query)
        if len(ids) < SCAN_BATCH or len(found) >= LIMIT:
            break
    return found[:LIMIT]


async def get_requests(request: Request, fmt: str) -> Response:
    """GET requests.{fmt}: the public view of requests received over Open311."""
    node, params = _node(request), _query(request)
    rt = _tenant(node, params.get("jurisdiction_id", ""))
    query = parse_query(params, rt.config, now_ms())
    store = RequestStore(node.store.redis)
    if query.ids:
        rows = rows_in(await _rows(store, rt, list(query.ids)), query)
    else:
        rows = await _scan(store, rt, query)
    return _answer("service_requests", rows, fmt)


async def get_request(request: Request, fmt: str) -> Response:
    """GET requests/{id}.{fmt}."""
    node = _node(request)
    rt = _tenant(node, _query(request).get("jurisdiction_id", ""))
    request_id = request.path_params["id"]
    rows = await _rows(RequestStore(node.store.redis), rt, [request_id[:64]])
    if not rows:
        raise Open311Error(404, f"service_request_id {request_id[:64]!r} not found")
    return _answer("service_requests", rows, fmt)


async def requests(request: Request, fmt: str) -> Response:
    """requests.{fmt}: POST creates, GET lists."""
    if request.method == "POST":
        return await post_request(request, fmt)
    return await get_requests(request, fmt)


async def not_found(request: Request, fmt: str) -> Response:
    """Anything else under /open311/v2/."""
    raise Open311Error(404, "no such Open311 resource")


class PublicReads:
    """CORS for the public reads only: Starlette's CORSMiddleware, which POSTs bypass.

    Any origin may read the GETs (`Access-Control-Allow-Origin: *`, errors
    included; no credentials: nothing is per user) and preflight them. POSTs
    get no allowance at all: partners post from their servers with an
    `api_key`, and a key in a web page is a key anyone can read. A form post
    is a CORS "simple request" that a browser sends without a preflight; the
    answer then has no Access-Control-Allow-Origin, so the page cannot read it,
    and the api_key decides whether anything is stored. A preflight for POST
    is refused (400, methods GET and HEAD only).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=list(READ_METHODS),
            expose_headers=["Retry-After"],  # not CORS-safelisted: a 429 must say when
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Public methods through CORSMiddleware, the others straight to the routes."""
        public = scope["type"] == "http" and scope["method"] in PUBLIC_METHODS
        await (self.cors if public else self.app)(scope, receive, send)


def _get_buckets(config: Config) -> BucketTable:
    rate = config.open311.get_rate_limit
    capacity = 0 if rate.unlimited else rate.count
    return BucketTable(capacity, rate.count / rate.per_s, GET_CLIENTS_MAX)


def open311_mount(config: Config) -> BaseRoute:
    """The `/open311/v2` routes (logs the partners that cannot post: no key).

    The GETs' per-address buckets live here, one table per app (per process).
    """
    for tenant in config.tenants.values():
        for partner in (tenant.open311.partners if tenant.open311 else {}).values():
            if partner.api_key is None:
                log.warning(
                    "Open311 partner %s of %s has no api_key (%s is unset): its posts are refused",
                    partner.name, tenant.id, partner.key_source,
                )  # fmt: skip
    gets = _get_buckets(config)
    return Mount(
        "/open311/v2",
        name="open311",
        routes=[
            Route("/discovery.{fmt}", _endpoint(discovery, gets)),
            Route("/services.{fmt}", _endpoint(service_list, gets)),
            Route("/services/{code}.{fmt}", _endpoint(service_definition, gets)),
            Route("/requests.{fmt}", _endpoint(requests, gets), methods=["GET", "POST"]),
            Route("/requests/{id}.{fmt}", _endpoint(get_request, gets)),
            Route("/{rest:path}", _endpoint(not_found, gets)),
        ],
        middleware=[Middleware(PublicReads)],
    )
