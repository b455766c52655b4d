"""EIDO documents of incidents, validated against NENA's schema (and its property names)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import h3
import pytest

from hub.core.eido import (
    INCIDENT_STATUS,
    MAX_CALLS,
    UNIT_STATUS,
    EidoSource,
    eido_time,
    incident_eido,
    merge_links,
)
from tests.standards import eido_properties, eido_validator

OPENED = 1_764_626_700_000
CELL = h3.latlng_to_cell(43.1839, 3.0042, 9)
SRC = EidoSource("narbonne.fr", "Europe/Paris", {"noise": "Nuisance sonore"})

# Component list (or object) of the document → its schema type.
COMPONENT_TYPES = {
    "incidentComponent": "IncidentInformationType",
    "callComponent": "CallInformationType",
    "dispatchComponent": "DispatchInformationType",
    "notesComponent": "NotesType",
    "emergencyResourceComponent": "EmergencyResourceType",
    "agencyComponent": "AgencyType",
    "agentComponent": "AgentType",
    "locationComponent": "LocationInformationType",
}


def incident(**over: Any) -> dict[str, Any]:
    return {
        "id": "in9", "category": "noise", "priority": 3, "score": 63.0, "cell": CELL,
        "lat": 43.1839, "lon": 3.0042, "status": "dispatched", "reports": 2, "reporters": 2,
        "text": "musique", "opened_at": OPENED, "updated_at": OPENED + 90_000,
        "unit": "u1", "assignment": "as1", **over,
    }  # fmt: skip


HISTORY = [
    {"at": OPENED + 10_000, "by": "op1", "session": "s1", "action": "acknowledge",
     "status": "acknowledged", "note": "appel <b>reçu</b> & lu"},
    {"at": OPENED + 20_000, "by": "op1", "session": "s1", "action": "assignment.offered",
     "status": "acknowledged", "assignment": "as1", "unit": "u1"},
    {"at": OPENED + 30_000, "by": "u1", "session": "s2", "action": "dispatch",
     "status": "dispatched", "assignment": "as1", "unit": "u1"},
    {"at": OPENED + 40_000, "by": "c1", "session": "s3", "action": "alert.cancel",
     "status": "dispatched", "alert": "al2"},
]  # fmt: skip
REPORTS = [
    {"alert": "al1", "at": OPENED, "text": "Musique <script>x</script>", "status": "dispatched"},
    {"alert": "al3", "at": OPENED + 5_000, "text": "", "status": "dispatched"},
]


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in eido_validator().iter_errors(doc)]
    assert errors == []
    assert set(doc) <= eido_properties("EmergencyIncidentDataObjectType")
    for key, type_name in COMPONENT_TYPES.items():
        components = doc.get(key, [])
        for component in components if isinstance(components, list) else [components]:
            assert set(component) <= eido_properties(type_name), key
    ids = [c["$id"] for k in COMPONENT_TYPES for c in _list(doc.get(k))]
    assert len(ids) == len(set(ids))  # references are unambiguous
    return doc


def _list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def test_a_dispatched_incident_is_a_valid_eido() -> None:
    doc = valid(incident_eido(SRC, incident(), HISTORY, REPORTS, {"u1": "en_route"}))
    assert doc["$id"] == f"urn:emergency:uid:incidentid:in9{OPENED:x}:narbonne.fr"
    info = doc["incidentComponent"]
    assert info["internalIncidentId"] == "in9"
    assert info["incidentTypeInternalText"] == "Nuisance sonore"
    assert info["incidentStatusCommonRegistryText"] == [INCIDENT_STATUS["dispatched"]]
    assert info["incidentCommonPriorityNumber"] == 3
    (resource,) = doc["emergencyResourceComponent"]
    assert resource["emergencyResourceName"] == "u1"
    assert resource["primaryUnitStatusRegistryText"] == UNIT_STATUS["en_route"]
    (dispatch,) = doc["dispatchComponent"]
    assert dispatch["emergencyResourceReference"] == [{"$ref": resource["$id"]}]
    assert [c["callStartTimestamp"] for c in doc["callComponent"]] == [
        eido_time(r["at"], "Europe/Paris") for r in REPORTS
    ]
    assert doc["agencyComponent"][0]["$id"] == "narbonne.fr"


def test_references_point_at_components_of_the_document() -> None:
    doc = valid(incident_eido(SRC, incident(), HISTORY, REPORTS, {"u1": "en_route"}))
    ids = {c["$id"] for k in COMPONENT_TYPES for c in _list(doc.get(k))}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if set(node) == {"$ref"} else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    assert set(refs(doc)) <= ids


def test_the_location_is_a_pidf_lo_with_the_point_and_the_cell() -> None:
    doc = valid(incident_eido(SRC, incident(), [], REPORTS, {}))
    (location,) = doc["locationComponent"]
    pidf = ET.fromstring(location["locationByValue"])
    gml = "{http://www.opengis.net/gml}"
    assert pidf.tag == "{urn:ietf:params:xml:ns:pidf}presence"
    pos = pidf.findtext(f".//{gml}Point/{gml}pos")
    assert pos == "43.1839 3.0042"
    ring = pidf.findtext(f".//{gml}Polygon/{gml}exterior/{gml}LinearRing/{gml}posList")
    assert ring is not None
    values = [float(v) for v in ring.split()]
    points = list(zip(values[::2], values[1::2], strict=True))
    assert len(points) == 7 and points[0] == points[-1]  # the hexagon, closed
    assert h3.latlng_to_cell(*points[0], 9) in h3.grid_disk(CELL, 1)
    assert location["localIdentifier"] == [f"h3:{CELL}"]


def test_no_reporter_or_operator_is_named() -> None:
    doc = valid(incident_eido(SRC, incident(), HISTORY, REPORTS, {"u1": "en_route"}))
    text = repr(doc)
    for who in ("c1", "op1", "s1", "s2", "s3"):
        assert f"'{who}" not in text and f"{who}@" not in text
    assert "personComponent" not in doc
    authors = [n.get("agentReference") for n in doc["notesComponent"]]
    assert {"$ref": "u1@narbonne.fr"} in authors  # the unit acted: it is named
    assert authors.count({"$ref": "u1@narbonne.fr"}) == 1  # not for the operator's offer


def test_free_text_is_escaped_html() -> None:
    doc = valid(incident_eido(SRC, incident(), HISTORY, REPORTS, {"u1": "en_route"}))
    comments = [n["notesActionComments"] for n in doc["notesComponent"]]
    assert "acknowledge → acknowledged: appel &lt;b&gt;reçu&lt;/b&gt; &amp; lu" in comments
    assert "Musique &lt;script&gt;x&lt;/script&gt;" in comments
    assert not any("<" in c for c in comments)


@pytest.mark.parametrize("status", sorted(INCIDENT_STATUS))
def test_every_status_exports(status: str) -> None:
    bare = incident(status=status, unit=None, assignment=None)
    doc = valid(incident_eido(SRC, {k: v for k, v in bare.items() if v}, [], [], {}))
    assert doc["incidentComponent"]["incidentStatusInternalText"] == [status]
    assert "emergencyResourceComponent" not in doc and "callComponent" not in doc


def test_a_town_category_unknown_to_the_table_is_other() -> None:
    doc = valid(incident_eido(SRC, incident(category="stray_dogs"), [], [], {}))
    assert doc["incidentComponent"]["incidentTypeCommonRegistryText"] == "Other"
    assert doc["incidentComponent"]["incidentTypeInternalText"] == "stray_dogs"


def test_a_hotspot_exports_its_newest_reports_only() -> None:
    many = [{"alert": f"al{i}", "at": OPENED + i, "text": "x"} for i in range(MAX_CALLS + 50)]
    doc = valid(incident_eido(SRC, incident(), [], many, {}))
    assert len(doc["callComponent"]) == MAX_CALLS
    assert doc["callComponent"][-1]["$id"].startswith(
        f"urn:emergency:uid:callid:al{MAX_CALLS + 49}"
    )


def test_times_are_rfc3339_with_the_town_offset() -> None:
    stamp = eido_time(OPENED, "Europe/Paris")
    assert stamp == "2025-12-01T23:05:00.000+01:00"
    assert dt.datetime.fromisoformat(stamp).timestamp() * 1000 == OPENED


def test_merges_name_the_other_incident_both_ways() -> None:
    source = incident(id="in4", status="merged", merged_into="in9", unit=None, assignment=None)
    source = {k: v for k, v in source.items() if v is not None}
    trail = [
        {"at": OPENED + 50_000, "by": "op1", "action": "merge", "status": "merged", "into": "in9"}
    ]
    doc = valid(incident_eido(SRC, source, trail, [], {}, {"in9": OPENED - 1}))
    (merge,) = doc["mergeComponent"]
    assert merge["incidentMergeDirectionCode"] == "REPLACED"
    assert (
        merge["incidentTrackingIdentifier"]
        == f"urn:emergency:uid:incidentid:in9{OPENED - 1:x}:narbonne.fr"
    )
    target_trail = [
        {"at": OPENED + 50_000, "action": "merge", "status": "open", "from": ["in4", "in5"]}
    ]
    target = valid(incident_eido(SRC, incident(), target_trail, [], {}, {"in4": OPENED}))
    (merge,) = target["mergeComponent"]  # in5 is past its retention: not named
    assert merge["incidentMergeDirectionCode"] == "REPLACING"
    assert merge["incidentTrackingIdentifier"].startswith("urn:emergency:uid:incidentid:in4")
    assert merge_links(source, trail) == ["in9"] and merge_links(incident(), target_trail) == [
        "in4",
        "in5",
    ]
