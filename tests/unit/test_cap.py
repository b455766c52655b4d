"""CAP 1.2 documents and the Atom feed of notices: every one validated against the XSD."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser  # a real feed reader, as a relay would use
import h3
import pytest

from hub.core.cap import (
    CAP_LEVELS,
    CAP_NS,
    Issuer,
    PublicNotice,
    area_description,
    area_polygons,
    cap_time,
    cap_xml,
)
from hub.core.cap_feed import ATOM_NS, notices_feed
from hub.core.messages import SEVERITIES
from tests.standards import cap_schema

CENTRE = (43.1839, 3.0042)
PLAGE = (43.16, 3.16)
AT = 1_764_626_700_000  # 2025-12-01 22:05 Paris
C = f"{{{CAP_NS}}}"
A = f"{{{ATOM_NS}}}"

ISSUER = Issuer(
    tenant="narbonne",
    town="Narbonne",
    sender="vigie@narbonne.fr",
    language="fr",
    timezone="Europe/Paris",
    sectors={
        "centre": h3.latlng_to_cell(*CENTRE, 7),
        "plage": h3.latlng_to_cell(*PLAGE, 7),
    },
)


def notice(text: str = "Rue de la Mairie fermée", severity: str = "warning") -> PublicNotice:
    cells = tuple(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 1))
    return PublicNotice("nt7", cells, text, severity, AT, AT + 3_600_000)


def valid(document: bytes) -> ET.Element:
    cap_schema().validate(document.decode("utf-8"))
    return ET.fromstring(document)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_every_severity_gives_a_valid_cap_alert_with_its_table_row(severity: str) -> None:
    alert = valid(cap_xml(notice(severity=severity), ISSUER))
    level = CAP_LEVELS[severity]
    info = alert.find(f"{C}info")
    assert info is not None
    got = [info.findtext(f"{C}{k}") for k in ("urgency", "severity", "certainty", "category")]
    assert got == [level.urgency, level.severity, level.certainty, "Safety"]
    assert [alert.findtext(f"{C}{k}") for k in ("status", "msgType", "scope")] == [
        "Actual",
        "Alert",
        "Public",
    ]
    assert alert.findtext(f"{C}sender") == "vigie@narbonne.fr"
    assert info.findtext(f"{C}language") == "fr"


def test_times_carry_the_town_offset_never_z() -> None:
    alert = valid(cap_xml(notice(), ISSUER))
    assert alert.findtext(f"{C}sent") == "2025-12-01T23:05:00+01:00"
    assert alert.findtext(f"{C}info/{C}expires") == "2025-12-02T00:05:00+01:00"
    assert cap_time(AT, "UTC") == "2025-12-01T22:05:00+00:00"
    summer = 1_751_400_000_000  # July: CEST
    assert cap_time(summer, "Europe/Paris").endswith("+02:00")


def test_identifier_is_stable_per_notice() -> None:
    one, two = cap_xml(notice(), ISSUER), cap_xml(notice(text="other words"), ISSUER)
    ident = ET.fromstring(one).findtext(f"{C}identifier")
    assert ident == ET.fromstring(two).findtext(f"{C}identifier") == "vigie-narbonne-nt7-" + str(AT)


def test_area_is_the_outer_boundary_of_the_cells_as_closed_rings() -> None:
    cells = tuple(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 1))  # 7 cells, one blob
    (polygon,) = area_polygons(cells)
    pairs = polygon.split(" ")
    assert pairs[0] == pairs[-1] and len(pairs) == 19  # 18 boundary vertices, closed
    lat, lon = (float(v) for v in pairs[0].split(","))
    assert 43.1 < lat < 43.3 and 2.9 < lon < 3.1  # lat first, as CAP wants
    # Two cells far apart: two polygons; mixed resolutions: one group each.
    apart = (h3.latlng_to_cell(*CENTRE, 9), h3.latlng_to_cell(*PLAGE, 9))
    assert len(area_polygons(apart)) == 2
    mixed = (h3.latlng_to_cell(*CENTRE, 9), h3.latlng_to_cell(*PLAGE, 7))
    assert len(area_polygons(mixed)) == 2
    # A ring of cells: its outer boundary only (CAP polygons have no holes).
    ring = tuple(h3.grid_ring(h3.latlng_to_cell(*CENTRE, 9), 1))
    assert len(area_polygons(ring)) == 1


def test_area_description_in_words() -> None:
    centre = tuple(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 9), 1))
    assert area_description(ISSUER, centre) == "Narbonne, secteur centre (7 cellules)"
    far = (h3.latlng_to_cell(43.13, 3.15, 9),)  # south of the plage sector's cell
    assert area_description(ISSUER, far) == "Narbonne, 1 cellule près du secteur plage"
    english = Issuer("t", "Town", "s@t", "en-GB", "UTC")
    assert area_description(english, centre) == "Town, 7 cells"


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script> & friends",
        "]]><evil/>",
        "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'boom'>]>&e;",
        "bell\x07, nul\x00, escape\x1b, vertical tab\x0b: stripped",
        "tab\tand\nnewlines\r\nstay",
        "é" * 1000,
    ],
)
def test_hostile_texts_stay_text_and_the_document_stays_valid(text: str) -> None:
    alert = valid(cap_xml(notice(text=text), ISSUER))
    description = alert.findtext(f"{C}info/{C}description")
    assert description is not None
    assert not any(ch in description for ch in "\x00\x07\x0b\x1b")
    assert description.replace("\r", "") == "".join(
        ch for ch in text if ch not in "\x00\x07\x0b\x1b"
    ).replace("\r", "")
    assert alert.find(".//{*}evil") is None and alert.find(".//script") is None
    headline = alert.findtext(f"{C}info/{C}headline")
    assert headline is not None and len(headline) <= 160


def test_the_atom_feed_parses_and_links_each_cap_file() -> None:
    notices = [
        notice(),
        PublicNotice(
            "nt8",
            (h3.latlng_to_cell(*PLAGE, 8),),
            "Baignade interdite",
            "danger",
            AT + 1000,
            AT + 7_200_000,
        ),
    ]
    url = "http://127.0.0.1:1/api/v1/notices/{}.cap.xml"
    body = notices_feed(
        notices[::-1],
        ISSUER,
        feed_url="http://127.0.0.1:1/api/v1/notices.atom",
        cap_url=url.format,
        now_ms=AT + 5000,
    )
    feed = ET.fromstring(body)
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}id") == "http://127.0.0.1:1/api/v1/notices.atom"
    assert feed.findtext(f"{A}updated") == cap_time(AT + 1000, "Europe/Paris")
    entries = feed.findall(f"{A}entry")
    assert [e.findtext(f"{A}id") for e in entries] == [url.format("nt8"), url.format("nt7")]
    for entry, source in zip(entries, notices[::-1], strict=True):
        link = entry.find(f"{A}link")
        assert link is not None and link.get("type") == "application/cap+xml"
        assert link.get("href") == entry.findtext(f"{A}id")
        assert entry.findtext(f"{C}expires") == cap_time(source.expires_ms, "Europe/Paris")
        assert entry.findtext(f"{C}identifier") == f"vigie-narbonne-{source.id}-{source.at_ms}"
        assert entry.findtext(f"{C}severity") == CAP_LEVELS[source.severity].severity
        assert entry.findtext(f"{C}areaDesc", "").startswith("Narbonne, ")
        assert entry.findtext(f"{A}title") and entry.findtext(f"{A}updated")


def test_an_empty_feed_is_still_a_feed() -> None:
    body = notices_feed([], ISSUER, feed_url="u", cap_url=str, now_ms=AT)
    feed = ET.fromstring(body)
    assert feed.findall(f"{A}entry") == [] and feed.findtext(f"{A}updated") == cap_time(
        AT, "Europe/Paris"
    )
    assert feed.findtext(f"{A}author/{A}name") == "Narbonne"


def test_a_feed_reader_reads_the_feed_and_its_cap_elements() -> None:
    hostile = notice(text="<b>Rue</b> & ]]> fermée\x01")
    body = notices_feed(
        [hostile], ISSUER, feed_url="http://127.0.0.1:1/f", cap_url="http://127.0.0.1:1/{}".format,
        now_ms=AT,
    )  # fmt: skip
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    (entry,) = parsed.entries
    assert entry.id == "http://127.0.0.1:1/nt7"
    assert entry.links == [
        {"rel": "alternate", "type": "application/cap+xml", "href": "http://127.0.0.1:1/nt7"}
    ]
    assert entry.cap_expires == cap_time(hostile.expires_ms, "Europe/Paris")
    assert entry.cap_severity == "Moderate" and entry.cap_areadesc.startswith("Narbonne")
