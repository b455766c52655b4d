"""Open311 input, checked: the POST requests form and the GET requests filters.

Rule: every limit on what a partner or a reader may send is here, and a
refusal lists every problem found, in the spec's shape (`Open311Error`), so a
partner fixes its integration in one round. Nothing here touches the store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:  # the core reads the tenant's settings, it does not load them
    from hub.config import TenantConfig

__all__ = [
    "DEFAULT_WINDOW",
    "LIMIT",
    "Open311Error",
    "PostedRequest",
    "RequestQuery",
    "parse_post",
    "parse_query",
    "rows_in",
]

DEFAULT_WINDOW: Final = timedelta(days=90)  # the spec's default span, and its maximum
LIMIT: Final = 1000  # the spec's default (and here maximum) number of requests returned
FIELD_MAX: Final = 2048  # any single form value but the description
MEDIA_MAX: Final = 5  # media_url may be repeated (FixMyStreet's multi_photos)
ATTRIBUTES_MAX: Final = 50
IDS_MAX: Final = 1000  # service_request_id=a,b,c...
# Form fields that carry one value: a second one is a client bug, not a list.
SCALARS: Final = frozenset(
    {
        "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
        "address_id", "email", "device_id", "account_id", "first_name", "last_name",
        "phone", "description",
    }
)  # fmt: skip
# Attributes a partner may use to name its own report: the idempotency ref then
# follows it, so a re-sent report is the same request even if its text changed.
PARTNER_ID_ATTRIBUTES: Final = ("fixmystreet_id", "external_id")
_ATTRIBUTE: Final = re.compile(r"attribute\[([A-Za-z0-9_.:-]{1,64})\](\[\])?")
_COORDINATE: Final = re.compile(r"-?\d{1,3}(\.\d{1,17})?")
# C0 controls but tab and line breaks, and DEL: not text (and not XML 1.0).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Open311Error(Exception):
    """A refusal in the spec's shape: an HTTP status and a list of (code, description)."""

    def __init__(self, status: int, *descriptions: str, retry_after_s: float | None = None) -> None:
        super().__init__(descriptions[0] if descriptions else "")
        self.status = status
        self.errors = [{"code": status, "description": d} for d in descriptions]
        self.retry_after_s = retry_after_s


# -- what a partner posts ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostedRequest:
    """A POST requests form, checked: only what the hub uses is kept."""

    api_key: str
    service_code: str
    lat: float
    lon: float
    description: str
    device_id: str
    account_id: str
    email: str
    media_urls: tuple[str, ...]
    partner_id: str  # the partner's own id of the report, from its attributes
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _scalars(pairs: Sequence[tuple[str, str]], errors: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in pairs:
        if key not in SCALARS:
            continue
        if key in values:
            errors.append(f"{key}: given more than once")
        elif len(value) > FIELD_MAX and key != "description":
            errors.append(f"{key}: longer than {FIELD_MAX} characters")
        else:
            values[key] = value.strip() if key != "description" else value
    return values


def _attributes(pairs: Sequence[tuple[str, str]], errors: list[str]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        if not key.startswith("attribute"):
            continue
        match = _ATTRIBUTE.fullmatch(key)
        if match is None:
            errors.append(f"{key[:40]!r}: expected attribute[code] or attribute[code][]")
        elif len(value) > FIELD_MAX:
            errors.append(f"attribute[{match[1]}]: longer than {FIELD_MAX} characters")
        else:
            found.setdefault(match[1], []).append(value)
    if len(found) > ATTRIBUTES_MAX:
        errors.append(f"attribute: more than {ATTRIBUTES_MAX} codes")
    return {code: tuple(values) for code, values in found.items()}


def _media(pairs: Sequence[tuple[str, str]], errors: list[str]) -> tuple[str, ...]:
    urls = [value.strip() for key, value in pairs if key == "media_url" and value.strip()]
    if len(urls) > MEDIA_MAX:
        errors.append(f"media_url: more than {MEDIA_MAX}")
    for url in urls:
        parts = urlsplit(url) if len(url) <= FIELD_MAX else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.netloc
            or re.search(r"[\s\x00-\x1f\x7f]", url)
        ):
            errors.append(f"media_url: {url[:60]!r} is not an http(s) URL")
    return tuple(urls)


def _coordinate(values: Mapping[str, str], key: str, bound: float, errors: list[str]) -> float:
    text = values.get(key, "")
    # float() would take "nan", "1e3", "1_0" and " 1": a coordinate is plain decimal.
    if not _COORDINATE.fullmatch(text):
        errors.append(f"{key}: {text[:30]!r} is not a decimal WGS84 coordinate")
        return math.nan
    number = float(text)
    if not -bound <= number <= bound:
        errors.append(f"{key}: {text} is outside [-{bound:g}, {bound:g}]")
    return number


def _position(values: Mapping[str, str], errors: list[str]) -> tuple[float, float]:
    if not values.get("lat") and not values.get("long"):
        if values.get("address_string") or values.get("address_id"):
            errors.append(
                "lat and long are required: the hub needs a position and does not"
                " geocode address_string or address_id"
            )
        else:
            errors.append("lat and long are required")
        return math.nan, math.nan
    return _coordinate(values, "lat", 90, errors), _coordinate(values, "long", 180, errors)


def _description(values: Mapping[str, str], limit: int, errors: list[str]) -> str:
    text = values.get("description", "")
    if len(text) > limit:
        errors.append(f"description: longer than {limit} characters")
    if _CONTROL.search(text):
        errors.append("description: control characters are not text")
    return text


def parse_post(pairs: Sequence[tuple[str, str]], tenant: TenantConfig) -> PostedRequest:
    """Check a POST requests form (decoded pairs, repeated keys kept).

    Raises Open311Error 400 listing every problem found, or 404 for an unknown
    service_code (the spec's code for it). The api_key is not checked here.
    """
    errors: list[str] = []
    values = _scalars(pairs, errors)
    attributes = _attributes(pairs, errors)
    media = _media(pairs, errors)
    code = values.get("service_code", "")
    if not code:
        errors.append("service_code is required")
    lat, lon = _position(values, errors)
    description = _description(values, tenant.text_max_chars, errors)
    if errors:
        raise Open311Error(400, *errors)
    if code not in tenant.categories:
        raise Open311Error(404, f"service_code {code[:40]!r} not found")
    partner_id = next((attributes[a][0] for a in PARTNER_ID_ATTRIBUTES if a in attributes), "")
    return PostedRequest(
        api_key=values.get("api_key", ""), service_code=code, lat=lat, lon=lon,
        description=description, device_id=values.get("device_id", ""),
        account_id=values.get("account_id", ""), email=values.get("email", "").lower(),
        media_urls=media, partner_id=partner_id, attributes=attributes,
    )  # fmt: skip


# -- GET requests filters ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """GET requests, checked. `ids` set: they alone select (the spec: it overrides)."""

    ids: tuple[str, ...] = ()
    codes: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    start_ms: int = 0
    end_ms: int = 0


def _list(params: Mapping[str, str], key: str) -> list[str]:
    return [v.strip() for v in params.get(key, "").split(",") if v.strip()]


def _date(params: Mapping[str, str], key: str, errors: list[str]) -> datetime | None:
    text = params.get(key, "").strip()
    if not text:
        return None
    # An unencoded "+01:00" arrives as " 01:00" in a query string.
    text = re.sub(r" (\d\d:\d\d)$", r"+\1", text)
    try:
        when = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        errors.append(f"{key}: expected a W3C date-time with a zone, e.g. 2010-01-01T00:00:00Z")
        return None
    return when


def _window(
    start: datetime | None, end: datetime | None, now: datetime, errors: list[str]
) -> tuple[int, int]:
    if start is None and end is None:
        end = now
    if end is None:
        assert start is not None
        end = start + DEFAULT_WINDOW
    if start is None:
        start = end - DEFAULT_WINDOW
    if start > end:
        errors.append("start_date is after end_date")
    elif end - start > DEFAULT_WINDOW:
        errors.append("start_date to end_date may not span more than 90 days")
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def parse_query(params: Mapping[str, str], tenant: TenantConfig, now_ms: int) -> RequestQuery:
    """Check GET requests' filters; raises Open311Error 400 listing every problem."""
    errors: list[str] = []
    ids = _list(params, "service_request_id")
    if len(ids) > IDS_MAX or any(len(i) > 64 for i in ids):
        errors.append(f"service_request_id: at most {IDS_MAX} ids of at most 64 characters")
    codes = _list(params, "service_code")
    unknown = [c for c in codes if c not in tenant.categories]
    if unknown:
        errors.append(f"service_code: unknown {unknown[0][:40]!r}")
    statuses = _list(params, "status")
    if any(s not in ("open", "closed") for s in statuses):
        errors.append("status: expected open, closed or both (comma separated)")
    now = datetime.fromtimestamp(now_ms / 1000).astimezone()
    start = _date(params, "start_date", errors)
    end = _date(params, "end_date", errors)
    start_ms, end_ms = _window(start, end, now, errors) if not errors else (0, 0)
    if errors:
        raise Open311Error(400, *errors)
    return RequestQuery(
        tuple(dict.fromkeys(ids)), frozenset(codes), frozenset(statuses), start_ms, end_ms
    )


def matches(row: Mapping[str, Any], query: RequestQuery) -> bool:
    """Whether a public row passes the service_code and status filters."""
    if query.codes and row["service_code"] not in query.codes:
        return False
    return not query.statuses or row["status"] in query.statuses


def rows_in(rows: Iterable[dict[str, Any]], query: RequestQuery) -> list[dict[str, Any]]:
    """The rows a query returns, at most LIMIT (ids select on their own)."""
    if query.ids:
        return list(rows)[:LIMIT]
    return [row for row in rows if matches(row, query)][:LIMIT]
