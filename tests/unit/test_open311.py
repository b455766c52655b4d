"""Open311's pure part: services, the form and filters, the pseudonym and ref, the
status mapping, the public row and the XML/JSON bytes (no hub, no Redis)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import h3
import orjson
import pytest

from hub.config import TenantConfig, load_config
from hub.core import open311
from hub.core.lifecycle import INCIDENT_TRANSITIONS, LIVE, TERMINAL
from hub.core.open311_format import render
from hub.core.open311_input import Open311Error, PostedRequest, parse_post, parse_query, rows_in

PARIS = ZoneInfo("Europe/Paris")
DEC_1 = int(datetime(2026, 12, 1, 21, 5, tzinfo=PARIS).timestamp() * 1000)
JUL_1 = int(datetime(2026, 7, 1, 21, 5, tzinfo=PARIS).timestamp() * 1000)
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def town() -> TenantConfig:
    return load_config(env={}).tenants["narbonne"]


def form(**changes: str) -> list[tuple[str, str]]:
    fields = {"service_code": "noise", "lat": "43.1839", "long": "3.0042", "device_id": "d1",
              "description": "music"}  # fmt: skip
    fields.update(changes)
    return [(k, v) for k, v in fields.items() if v != ""]


def refused(pairs: list[tuple[str, str]], town: TenantConfig, status: int = 400) -> list[str]:
    with pytest.raises(Open311Error) as info:
        parse_post(pairs, town)
    assert info.value.status == status
    return [e["description"] for e in info.value.errors]


# -- services -----------------------------------------------------------------------


def test_services_follow_the_categories_and_the_language(town: TenantConfig) -> None:
    rows = open311.services(town)
    assert [r["service_code"] for r in rows] == list(town.categories)
    assert {r["type"] for r in rows} == {"realtime"} and {r["metadata"] for r in rows} == {False}
    assert rows[0]["service_name"] == town.categories[rows[0]["service_code"]].label_fr
    english = open311.services(replace(town, language="en"))
    assert english[0]["service_name"] == town.categories[rows[0]["service_code"]].label_en


def test_a_town_without_open311_has_no_services(town: TenantConfig) -> None:
    with pytest.raises(Open311Error) as info:
        open311.services(replace(town, open311=None))
    assert info.value.status == 404


# -- the POST form ------------------------------------------------------------------


def test_a_good_form(town: TenantConfig) -> None:
    posted = parse_post(
        form(**{"attribute[fixmystreet_id]": "42", "media_url": "https://x/1.jpg"}), town
    )
    assert (posted.service_code, posted.lat, posted.lon) == ("noise", 43.1839, 3.0042)
    assert posted.partner_id == "42" and posted.media_urls == ("https://x/1.jpg",)
    assert posted.attributes == {"fixmystreet_id": ("42",)}


def test_multivalue_attributes_are_kept(town: TenantConfig) -> None:
    pairs = [*form(), ("attribute[c][]", "1"), ("attribute[c][]", "2")]
    assert parse_post(pairs, town).attributes == {"c": ("1", "2")}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"lat": "1e1"}, "lat"),
        ({"lat": "inf"}, "lat"),
        ({"long": "181"}, "long"),
        ({"lat": "", "long": "", "address_string": "1 rue Droite"}, "geocode"),
        ({"lat": "", "long": ""}, "lat and long are required"),
        ({"service_code": ""}, "service_code is required"),
        ({"description": "x" * 1001}, "longer than 1000"),
        ({"description": "bell\x07"}, "control"),
        ({"media_url": "ftp://x/y"}, "media_url"),
        ({"media_url": "https://x/a b"}, "media_url"),
        ({"phone": "9" * 3000}, "phone"),
    ],
)
def test_bad_forms_name_the_field(town: TenantConfig, changes: dict[str, str], says: str) -> None:
    assert any(says in e for e in refused(form(**changes), town))


def test_values_are_trimmed(town: TenantConfig) -> None:
    assert parse_post(form(lat=" 43.1 "), town).lat == 43.1


def test_every_problem_at_once(town: TenantConfig) -> None:
    pairs = [*form(lat="x", description="\x00"), ("service_code", "fire"), ("attribute[", "1")]
    assert len(refused(pairs, town)) == 4


def test_an_unknown_service_code_is_404(town: TenantConfig) -> None:
    assert refused(form(service_code="pothole"), town, 404) == ["service_code 'pothole' not found"]


def test_text_keeps_its_line_breaks(town: TenantConfig) -> None:
    assert parse_post(form(description="a\r\n\tb"), town).description == "a\r\n\tb"


# -- pseudonym and ref --------------------------------------------------------------


def posted(town: TenantConfig, **changes: str) -> PostedRequest:
    return parse_post(form(**changes), town)


def test_the_reporter_is_a_keyed_hash(town: TenantConfig) -> None:
    by_device = open311.reporter_of("fms", posted(town), b"pepper")
    assert by_device.startswith("open311:fms:d") and "d1" not in by_device.removeprefix(
        "open311:fms:"
    )
    assert by_device == open311.reporter_of("fms", posted(town), b"pepper")  # stable
    assert by_device != open311.reporter_of("fms", posted(town), b"other")  # keyed
    assert by_device != open311.reporter_of("app", posted(town), b"pepper")  # per partner
    email = open311.reporter_of("fms", posted(town, device_id="", email="A@B.fr"), b"p")
    assert email == open311.reporter_of("fms", posted(town, device_id="", email="a@b.fr"), b"p")
    assert email.startswith("open311:fms:e") and "a@b" not in email
    assert open311.reporter_of("fms", posted(town, device_id=""), b"p") == "open311:fms:-"


def test_the_ref_follows_the_partners_id_else_the_content(town: TenantConfig) -> None:
    a = open311.request_ref(posted(town))
    assert a == open311.request_ref(posted(town)) and len(a) <= 64
    assert a != open311.request_ref(posted(town, description="other"))
    by_id = open311.request_ref(posted(town, **{"attribute[fixmystreet_id]": "7"}))
    again = posted(town, description="edited", **{"attribute[fixmystreet_id]": "7"})
    assert by_id.startswith("id:") and by_id == open311.request_ref(again)


def test_what_the_alert_keeps(town: TenantConfig) -> None:
    two = [*form(), ("media_url", "https://x/1"), ("media_url", "http://x/2")]
    alert = open311.to_alert(parse_post(two, town))
    assert (alert.category, alert.text, alert.accuracy_m) == ("noise", "music", None)
    fields = open311.alert_fields("fms", parse_post(two, town))
    assert fields == {"source": "open311:fms", "media_url": "https://x/1 http://x/2"}
    assert open311.alert_fields("fms", posted(town)) == {"source": "open311:fms"}


# -- status and the public row ------------------------------------------------------


def test_status_follows_the_incident_for_every_state() -> None:
    states = {"open"} | {target for _, target in INCIDENT_TRANSITIONS.values()}
    for state in states:
        status, note = open311.public_status(state, "received")
        assert status == ("open" if state in LIVE else "closed"), state
        assert state in TERMINAL or state in LIVE
        assert (note is None) == (state == "open")
    assert open311.public_status("open", "cancelled")[0] == "closed"


def test_dates_carry_the_towns_offset() -> None:
    assert open311.w3_datetime(DEC_1, PARIS) == "2026-12-01T21:05:00+01:00"
    assert open311.w3_datetime(JUL_1, PARIS) == "2026-07-01T21:05:00+02:00"


def test_the_public_row_is_coarse_and_anonymous(town: TenantConfig) -> None:
    cell = h3.latlng_to_cell(43.1839, 3.0042, 9)
    alert = {"id": "al1", "category": "noise", "cell": cell, "at": str(DEC_1),
             "status": "received", "incident": "in1", "source": "open311:fms"}  # fmt: skip
    incident = {"status": "resolved", "updated_at": str(DEC_1 + 60_000),
                "closed_at": str(DEC_1 + 120_000)}  # fmt: skip
    row = open311.request_row(alert, incident, town)
    centre = h3.cell_to_latlng(h3.cell_to_parent(cell, 7))
    assert (row["lat"], row["long"]) == (round(centre[0], 6), round(centre[1], 6))
    assert row["status"] == "closed" and row["updated_datetime"] == "2026-12-01T21:07:00+01:00"
    assert row["description"] is None and row["media_url"] is None
    assert row["service_name"] == "Nuisance sonore"
    coarser = open311.request_row(alert, incident, replace(town, public_resolution=5))
    assert coarser["lat"] == round(h3.cell_to_latlng(h3.cell_to_parent(cell, 5))[0], 6)


# -- GET filters --------------------------------------------------------------------


def test_the_default_window_is_the_last_90_days(town: TenantConfig) -> None:
    query = parse_query({}, town, DEC_1)
    assert (query.end_ms, query.end_ms - query.start_ms) == (DEC_1, 90 * DAY_MS)
    only_start = parse_query({"start_date": "2026-01-01T00:00:00Z"}, town, DEC_1)
    assert only_start.end_ms - only_start.start_ms == 90 * DAY_MS
    only_end = parse_query({"end_date": "2026-06-01T00:00:00+02:00"}, town, DEC_1)
    assert only_end.end_ms - only_end.start_ms == 90 * DAY_MS


def test_an_unencoded_plus_in_a_date_is_understood(town: TenantConfig) -> None:
    query = parse_query({"end_date": "2026-12-01T22:05:00 01:00"}, town, DEC_1)
    assert query.end_ms == DEC_1 + 3_600_000


def test_ids_override_the_other_filters(town: TenantConfig) -> None:
    query = parse_query({"service_request_id": "al1, al2,al1", "status": "closed"}, town, DEC_1)
    assert query.ids == ("al1", "al2")
    rows = [{"service_request_id": "al1", "service_code": "noise", "status": "open"}]
    assert rows_in(rows, query) == rows
    assert rows_in(rows, replace(query, ids=())) == []


# -- bytes --------------------------------------------------------------------------


def test_xml_is_the_specs_shape_and_always_well_formed() -> None:
    errors = [{"code": 400, "description": "bad \x01 <x> & \ufffe"}]
    root = ET.fromstring(render("errors", errors, "xml"))
    assert root.tag == "errors" and root.find("error/code").text == "400"  # type: ignore[union-attr]
    assert root.find("error/description").text == "bad \ufffd <x> & \ufffd"  # type: ignore[union-attr]
    assert orjson.loads(render("errors", errors, "json")) == errors
    rows = [{"service_request_id": "al1", "description": None, "metadata": False}]
    request = ET.fromstring(render("service_requests", rows, "xml")).find("request")
    assert request is not None and request.find("description").text is None  # type: ignore[union-attr]
    assert request.find("metadata").text == "false"  # type: ignore[union-attr]
