"""Open311 GeoReport v2, the pure part: what the town offers, what a partner's
request becomes, and what the public may read back.

Rule: everything that decides the Open311 view of the hub lives here (the
services list, the reporter's pseudonym and the request's idempotency ref, the
status mapping, the public row); what input is accepted is open311_input.py,
the bytes open311_format.py. hub/server/open311.py only moves bytes and calls
the store. The public
row never carries the point (only the centre of a coarse cell), the reporter's
identity, the description or the media: see docs/interop.md for why.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import h3

from hub.core.lifecycle import ALERT_STATUS_FOR, ALERT_STATUS_NOTES, LIVE
from hub.core.messages import AlertSubmit
from hub.core.open311_input import Open311Error, PostedRequest

if TYPE_CHECKING:  # the core reads the tenant's settings, it does not load them
    from hub.config import Open311Settings, TenantConfig

__all__ = [
    "alert_fields",
    "discovery",
    "posted_row",
    "public_point",
    "public_status",
    "reporter_id",
    "reporter_of",
    "request_ref",
    "request_row",
    "service_definition",
    "services",
    "to_alert",
    "w3_datetime",
]

SPECIFICATION: Final = "http://wiki.open311.org/GeoReport_v2"
CHANGESET: Final = "2026-12-01T00:00:00Z"  # when this endpoint's shape last changed
FORMATS: Final = ("text/xml", "application/json")

# -- what the town offers ------------------------------------------------------------


def _name(tenant: TenantConfig, category: str) -> str:
    cat = tenant.categories[category]
    return cat.label_fr if tenant.language == "fr" else cat.label_en


def _settings(tenant: TenantConfig) -> Open311Settings:
    if tenant.open311 is None:
        raise Open311Error(404, f"{tenant.id} has no Open311 endpoint")
    return tenant.open311


def services(tenant: TenantConfig) -> list[dict[str, Any]]:
    """GET services: one service per category, service_code = category id."""
    texts = _settings(tenant).services
    rows = []
    for cid in tenant.categories:
        text = texts.get(cid)
        rows.append(
            {
                "service_code": cid,
                "service_name": _name(tenant, cid),
                "description": text.description if text else None,
                "metadata": False,  # no attributes to fill in: no service definition needed
                "type": "realtime",  # the service_request_id comes back at once
                "keywords": text.keywords if text else None,
                "group": text.group if text else None,
            }
        )
    return rows


def service_definition(tenant: TenantConfig, code: str) -> dict[str, Any]:
    """GET services/{code}: no attributes (every service has metadata false)."""
    if code not in tenant.categories:
        raise Open311Error(404, f"service_code {code[:40]!r} not found")
    return {"service_code": code, "attributes": []}


def discovery(tenant: TenantConfig, url: str) -> dict[str, Any]:
    """The Service Discovery document of the endpoint at `url`."""
    settings = _settings(tenant)
    endpoint = {
        "specification": SPECIFICATION,
        "url": url,
        "changeset": CHANGESET,
        "type": "production",
        "formats": list(FORMATS),
    }
    return {
        "changeset": CHANGESET,
        "contact": settings.contact,
        "key_service": settings.key_service,
        "endpoints": [endpoint],
    }


def reporter_of(partner: str, posted: PostedRequest, pepper: bytes) -> str:
    """The reporter's identity in the hub: a keyed hash, never the device, account or email.

    It is stable per partner and person (so rate limits, corroboration and
    idempotency work per device), and it cannot be turned back into the email
    without the hub's secret. Without any of the three, the partner's requests
    share one identity.
    """
    for kind, value in (("d", posted.device_id), ("a", posted.account_id), ("e", posted.email)):
        if value:
            return reporter_id(partner, kind, value, pepper)
    return f"open311:{partner}:-"


REPORTER_KINDS = {"device_id": "d", "account_id": "a", "email": "e"}


def reporter_id(partner: str, kind: str, value: str, pepper: bytes) -> str:
    """The pseudonym of one identifier (`kind` d, a or e) of a partner's reporter.

    What `vigie erase --open311` computes from what a resident gives the town.
    """
    digest = hmac.new(pepper, f"{partner}\0{kind}\0{value}".encode(), hashlib.sha256)
    return f"open311:{partner}:{kind}{digest.hexdigest()[:24]}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def request_ref(posted: PostedRequest) -> str:
    """The idempotency ref of a request: the partner's own id, else its content."""
    if posted.partner_id:
        return "id:" + _digest(posted.partner_id)
    content = (posted.service_code, repr(posted.lat), repr(posted.lon), posted.description)
    return "h:" + _digest(*content, *posted.media_urls)


def to_alert(posted: PostedRequest) -> AlertSubmit:
    """The alert a request becomes (the same message a citizen's app sends)."""
    return AlertSubmit(
        ref=request_ref(posted),
        category=posted.service_code,
        lat=posted.lat,
        lon=posted.lon,
        text=posted.description,
        accuracy_m=None,
    )


def alert_fields(partner: str, posted: PostedRequest) -> dict[str, str]:
    """What the alert keeps besides a citizen's: where it came from, and its media."""
    fields = {"source": f"open311:{partner}"}
    if posted.media_urls:
        fields["media_url"] = " ".join(posted.media_urls)  # URLs hold no spaces
    return fields


# -- what the public reads back ------------------------------------------------------


def public_status(incident_status: str, alert_status: str) -> tuple[str, str | None]:
    """(open|closed, the fixed public note) of a request, from its incident's state."""
    if alert_status == "cancelled":
        return "closed", ALERT_STATUS_NOTES["cancelled"]
    status = "open" if incident_status in LIVE else "closed"
    seen = ALERT_STATUS_FOR.get(incident_status)
    return status, ALERT_STATUS_NOTES.get(seen) if seen else None


def w3_datetime(ms: int, zone: ZoneInfo) -> str:
    """W3C date-time with the zone's offset, to the second."""
    return datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="seconds")


def public_point(cell: str, resolution: int) -> tuple[float, float]:
    """The centre of the coarse cell holding `cell`: all the public learns of a place."""
    lat, lon = h3.cell_to_latlng(h3.cell_to_parent(cell, resolution))
    return round(lat, 6), round(lon, 6)


def _ms(value: str | None) -> int:
    return int(value) if value else 0


def request_row(
    alert: Mapping[str, str], incident: Mapping[str, str], tenant: TenantConfig
) -> dict[str, Any]:
    """One request as GET requests shows it: no point, no reporter, no text, no media."""
    status, note = public_status(incident.get("status", ""), alert.get("status", ""))
    zone = ZoneInfo(tenant.timezone)
    requested = _ms(alert.get("at"))
    closed = _ms(incident.get("closed_at"))
    updated = closed if status == "closed" and closed else _ms(incident.get("updated_at"))
    lat, lon = public_point(alert["cell"], tenant.public_resolution)
    return {
        "service_request_id": alert["id"],
        "status": status,
        "status_notes": note,
        "service_name": _name(tenant, alert["category"]),
        "service_code": alert["category"],
        "description": None,  # the reporter's words may name third parties
        "agency_responsible": None,
        "service_notice": None,
        "requested_datetime": w3_datetime(requested, zone),
        "updated_datetime": w3_datetime(max(updated, requested), zone),
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": None,  # a photo may show people
    }


def posted_row(alert_id: str) -> dict[str, Any]:
    """The answer to POST requests: the id, at once (type realtime)."""
    return {"service_request_id": alert_id}
