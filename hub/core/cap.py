"""A notice as a CAP 1.2 alert (OASIS Common Alerting Protocol, 2010).

Rule: every CAP value the hub sends is decided here — the element order of
the schema (§3.2, a sequence: order matters), the mapping of a notice's
severity to urgency / severity / certainty (`CAP_LEVELS`), and the area: the
outer boundary of the notice's H3 cells as CAP polygons. Pure: a notice and
its issuer in, an ElementTree or bytes out.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

import h3

from hub.core.xmltext import xml_safe

__all__ = [
    "CAP_CONTENT_TYPE",
    "CAP_LEVELS",
    "CAP_NS",
    "CapLevel",
    "Issuer",
    "PublicNotice",
    "area_description",
    "area_polygons",
    "cap_alert",
    "cap_identifier",
    "cap_time",
    "cap_xml",
]

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_CONTENT_TYPE: Final = "application/cap+xml"
HEADLINE_MAX: Final = 160  # CAP §3.2.2 headline: "SHOULD be less than 160 characters"
DIGITS: Final = 6  # ~0.1 m


@dataclass(frozen=True, slots=True)
class PublicNotice:
    """An operator's notice as it is kept and published (no operator identity)."""

    id: str
    cells: tuple[str, ...]
    text: str
    severity: str  # info | warning | danger
    at_ms: int
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who publishes: the town, from its configuration."""

    tenant: str
    town: str  # the town's name, for areaDesc and senderName
    sender: str  # CAP sender: no spaces, commas, < or &
    language: str  # BCP 47, e.g. fr (the config has fr or en)
    timezone: str  # IANA zone of the town: CAP times carry its offset
    sectors: Mapping[str, str] = field(default_factory=dict)  # sector name → its H3 cell


@dataclass(frozen=True, slots=True)
class CapLevel:
    """The three CAP §3.2.2 qualifiers of one notice severity."""

    urgency: str
    severity: str
    certainty: str


# One table per rule: a notice's severity → CAP urgency, severity, certainty.
# An operator publishes what is known, so certainty is never below Likely.
CAP_LEVELS: Final[Mapping[str, CapLevel]] = {
    "info": CapLevel("Future", "Minor", "Likely"),
    "warning": CapLevel("Expected", "Moderate", "Likely"),
    "danger": CapLevel("Immediate", "Severe", "Observed"),
}

# The CAP `event` (what the alert is about) per notice severity, per language.
_EVENT: Final[Mapping[str, Mapping[str, str]]] = {
    "fr": {"info": "Information", "warning": "Avertissement", "danger": "Danger"},
    "en": {"info": "Information", "warning": "Warning", "danger": "Danger"},
}
# Words of areaDesc: (one cell, n cells, in sector, near sector).
_AREA_WORDS: Final[Mapping[str, tuple[str, str, str, str]]] = {
    "fr": ("1 cellule", "{n} cellules", "secteur {s}", "près du secteur {s}"),
    "en": ("1 cell", "{n} cells", "sector {s}", "near sector {s}"),
}


def _words(table: Mapping[str, object], language: str) -> str:
    base = language.split("-", 1)[0].lower()
    return base if base in table else "en"


def cap_time(ms: int, timezone: str) -> str:
    """A CAP date-time: seconds, and the zone's offset (the schema refuses `Z`)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))
    return moment.replace(microsecond=0).isoformat()


def cap_identifier(issuer: Issuer, notice: PublicNotice) -> str:
    """Stable per notice; unique past a reset of the id counters (it has the time)."""
    return f"vigie-{issuer.tenant}-{notice.id}-{notice.at_ms}"


def _ring(points: Iterable[tuple[float, float]]) -> str:
    pairs = [f"{round(lat, DIGITS)},{round(lon, DIGITS)}" for lat, lon in points]
    return " ".join([*pairs, pairs[0]])  # CAP §3.2.4: first and last pairs equal


def area_polygons(cells: Iterable[str]) -> list[str]:
    """CAP polygons ("lat,lon lat,lon …", closed) of the outer boundary of the cells.

    h3 traces one shape per resolution, so cells of several resolutions give
    one group of polygons each (CAP areas are unions: overlaps are harmless).
    Holes are dropped: CAP polygons have none, and the area inside a ring of
    cells is better warned than not.
    """
    by_res: dict[int, list[str]] = {}
    for cell in dict.fromkeys(cells):
        by_res.setdefault(h3.get_resolution(cell), []).append(cell)
    polygons = []
    for res in sorted(by_res):
        for poly in h3.cells_to_h3shape(by_res[res], tight=False):
            polygons.append(_ring(poly.outer))
    return polygons


def _centre(cells: Iterable[str]) -> tuple[float, float]:
    points = [h3.cell_to_latlng(c) for c in cells]
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def area_description(issuer: Issuer, cells: tuple[str, ...]) -> str:
    """areaDesc in words: the town, how many cells, and the sector they are in or near."""
    one, many, within, near = _AREA_WORDS[_words(_AREA_WORDS, issuer.language)]
    count = one if len(cells) == 1 else many.format(n=len(cells))
    if not issuer.sectors:
        return f"{issuer.town}, {count}"
    lat, lon = _centre(cells)
    for name, cell in sorted(issuer.sectors.items()):
        if h3.latlng_to_cell(lat, lon, h3.get_resolution(cell)) == cell:
            return f"{issuer.town}, {within.format(s=name)} ({count})"
    nearest = min(
        sorted(issuer.sectors.items()),
        key=lambda item: h3.great_circle_distance((lat, lon), h3.cell_to_latlng(item[1])),
    )[0]
    return f"{issuer.town}, {count} {near.format(s=nearest)}"


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    # Values are the hub's own (ids, times, codes, polygons): texts that come from
    # people or configuration are passed through xml_safe by the caller.
    child = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    child.text = text
    return child


def _headline(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= HEADLINE_MAX else line[: HEADLINE_MAX - 1] + "…"


def cap_alert(notice: PublicNotice, issuer: Issuer) -> ET.Element:
    """The CAP 1.2 `alert` of a notice; children in the schema's order."""
    level = CAP_LEVELS[notice.severity]
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _add(alert, "identifier", xml_safe(cap_identifier(issuer, notice)))
    _add(alert, "sender", xml_safe(issuer.sender))
    _add(alert, "sent", cap_time(notice.at_ms, issuer.timezone))
    _add(alert, "status", "Actual")
    _add(alert, "msgType", "Alert")
    _add(alert, "scope", "Public")
    info = ET.SubElement(alert, f"{{{CAP_NS}}}info")
    _add(info, "language", xml_safe(issuer.language))
    _add(info, "category", "Safety")
    _add(info, "event", _EVENT[_words(_EVENT, issuer.language)][notice.severity])
    _add(info, "urgency", level.urgency)
    _add(info, "severity", level.severity)
    _add(info, "certainty", level.certainty)
    _add(info, "expires", cap_time(notice.expires_ms, issuer.timezone))
    text = xml_safe(notice.text)
    _add(info, "senderName", xml_safe(issuer.town))
    _add(info, "headline", _headline(text))
    _add(info, "description", text)
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _add(area, "areaDesc", xml_safe(area_description(issuer, notice.cells)))
    for polygon in area_polygons(notice.cells):
        _add(area, "polygon", polygon)
    return alert


def cap_xml(notice: PublicNotice, issuer: Issuer) -> bytes:
    """The CAP document of a notice, UTF-8 with an XML declaration."""
    document: bytes = ET.tostring(
        cap_alert(notice, issuer), encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS
    )
    return document
