"""An incident as a NENA EIDO document (NENA-STA-021, Emergency Incident Data Object).

Rule: how Vigie's incident maps onto EIDO components is decided here, in the
tables below and one function per component. Pure: the incident view, its
audit trail, its reports and its units' states in; a JSON-ready dict out.

Who is named: the town's agency and its patrol units (by call sign). Reporters
are never named, not even by id (no person component); operators are not named
either: the trail's notes say what happened and when, the audit trail that says
who stays in Vigie.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import h3

from hub.core.pidf import pidf_lo

__all__ = [
    "EIDO_VERSION",
    "INCIDENT_STATUS",
    "INCIDENT_TYPES",
    "MAX_CALLS",
    "MAX_LINKS",
    "MAX_NOTES",
    "UNIT_STATUS",
    "EidoSource",
    "eido_time",
    "incident_eido",
    "incident_urn",
    "merge_links",
]

EIDO_VERSION: Final = "1.0"
MAX_CALLS: Final = 500  # newest reports exported; a hotspot's thousands would bloat the hand-off
MAX_NOTES: Final = 500  # newest audit entries exported
MAX_LINKS: Final = 50  # merged incidents named (one merge takes at most 50)

# Vigie category → NENA Incident Type registry text; the category itself travels
# as incidentTypeInternalCode (a town's own categories map to "Other").
INCIDENT_TYPES: Final[Mapping[str, str]] = {
    "violence": "Assault",
    "burglary": "Burglary",
    "fire": "Fire",
    "rodeo": "Traffic",
    "suspicious": "Suspicious",
    "theft": "Theft",
    "vandalism": "Vandalism",
    "neighbour_dispute": "Disturbance",
    "road_hazard": "Hazard",
    "noise": "Disturbance",
    "incivility": "Disturbance",
    "other": "Other",
}
# Vigie incident status → NENA Incident Status registry text.
INCIDENT_STATUS: Final[Mapping[str, str]] = {
    "open": "Pending",
    "acknowledged": "Acknowledged",
    "dispatched": "Dispatched",
    "on_scene": "OnScene",
    "resolved": "Closed",
    "closed": "Closed",
    "rejected": "Cancelled",
    "merged": "Merged",
}
# Vigie unit status → NENA Primary Unit Status registry text.
UNIT_STATUS: Final[Mapping[str, str]] = {
    "available": "Available",
    "en_route": "Enroute",
    "on_scene": "OnScene",
    "busy": "Busy",
    "off_duty": "OutOfService",
}
AGENCY_TYPE: Final = "police.municipal"  # IANA urn:emergency:service:responder, prefix dropped


@dataclass(frozen=True, slots=True)
class EidoSource:
    """Who sends the document: the town's agency, from its configuration."""

    agency: str  # a domain, e.g. narbonne.fr: the agency id and the suffix of every URN
    timezone: str
    category_labels: Mapping[str, str]  # category id → its name in the town's language


def eido_time(ms: int, timezone: str) -> str:
    """An RFC 3339 date-time with milliseconds and the town's offset (as NENA's samples)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))
    return moment.isoformat(timespec="milliseconds")


def incident_urn(incident_id: str, opened_at_ms: int, agency: str) -> str:
    """The incident's EIDO id: unique past a reset of the id counters (it has the time)."""
    return f"urn:emergency:uid:incidentid:{incident_id}{opened_at_ms:x}:{agency}"


class _Doc:
    """The ids and prologue every component shares."""

    def __init__(self, src: EidoSource, incident: Mapping[str, Any]) -> None:
        self.src = src
        self.incident_urn = incident_urn(
            str(incident["id"]), int(incident["opened_at"]), src.agency
        )

    def prologue(self, component_id: str, at_ms: int) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": eido_time(at_ms, self.src.timezone),
            "updatedByAgencyReference": {"$ref": self.src.agency},
        }

    def sub(self, kind: str, key: str) -> str:
        return f"{self.incident_urn}:{kind}:{key}"

    def agent(self, unit: str) -> str:
        return f"{unit}@{self.src.agency}"


def _ref(component_id: str) -> dict[str, str]:
    return {"$ref": component_id}


def _location(doc: _Doc, incident: Mapping[str, Any]) -> dict[str, Any]:
    cell, at = incident["cell"], int(incident["updated_at"])
    return {
        **doc.prologue(doc.sub("location", "incident"), at),
        "locationTypeDescriptionRegistryText": "Incident",
        "locationByValue": pidf_lo(
            f"pres:{incident['id']}@{doc.src.agency}",
            float(incident["lat"]),
            float(incident["lon"]),
            cell,
            eido_time(int(incident["opened_at"]), doc.src.timezone),
        ),
        "locationDescriptionText": f"H3 cell {cell} (resolution {h3.get_resolution(cell)})",
        "localIdentifier": [f"h3:{cell}"],
    }


def _note_text(entry: Mapping[str, Any]) -> str:
    # notesActionComments is HTML5: the free text is escaped, never markup.
    parts = [str(entry.get("action", "update"))]
    if entry.get("status"):
        parts.append(f"→ {entry['status']}")
    if entry.get("unit"):
        parts.append(f"(unit {entry['unit']})")
    head = html.escape(" ".join(parts))
    note = entry.get("note")
    return f"{head}: {html.escape(str(note))}" if note else head


def _trail_notes(doc: _Doc, history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    notes = []
    first = max(0, len(history) - MAX_NOTES)
    for i, entry in enumerate(history[first:], start=first):
        note = {
            **doc.prologue(doc.sub("note", str(i)), int(entry["at"])),
            "notesActionComments": _note_text(entry),
        }
        if entry.get("unit") and entry.get("by") == entry["unit"]:
            # Only a unit is named as a note's author (operators and reporters never).
            note["agentReference"] = _ref(doc.agent(str(entry["unit"])))
        notes.append(note)
    return notes


def _calls(
    doc: _Doc, reports: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    calls, notes = [], []
    for report in reports[-MAX_CALLS:]:
        alert, at = str(report["alert"]), int(report["at"])
        call = {
            **doc.prologue(f"urn:emergency:uid:callid:{alert}{at:x}:{doc.src.agency}", at),
            "standardPrimaryCallType": "emergency",
            "localCallType": "vigie.citizen_report",
            "direction": "incoming",
            "callStartTimestamp": eido_time(at, doc.src.timezone),
            "callStateRegistryText": "callEnd",
        }
        if report.get("text"):
            note_id = doc.sub("report", alert)
            text = html.escape(str(report["text"]))
            notes.append({**doc.prologue(note_id, at), "notesActionComments": text})
            call["notesReference"] = [_ref(note_id)]
        calls.append(call)
    return calls, notes


def merge_links(incident: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The incidents this one was merged into or with (at most MAX_LINKS, first first)."""
    named = [str(incident["merged_into"])] if incident.get("merged_into") else []
    named += [str(s) for e in history for s in e.get("from") or ()]
    return list(dict.fromkeys(named))[:MAX_LINKS]


def _units(history: Sequence[Mapping[str, Any]], incident: Mapping[str, Any]) -> list[str]:
    named = [str(e["unit"]) for e in history if e.get("unit")]
    if incident.get("unit"):
        named.append(str(incident["unit"]))
    return list(dict.fromkeys(named))


def _resources(
    doc: _Doc, units: Sequence[str], states: Mapping[str, str], at: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    agents, resources = [], []
    for unit in units:
        status = states.get(unit, "off_duty")
        agents.append(
            {
                **doc.prologue(doc.agent(unit), at),
                "agentRoleRegistryText": ["Responder"],
                "agencyReference": _ref(doc.src.agency),
            }
        )
        resources.append(
            {
                **doc.prologue(doc.sub("resource", unit), at),
                "emergencyResourceTypeCommonRegistryText": "Police",
                "emergencyResourceName": unit,
                "agentReference": [_ref(doc.agent(unit))],
                "primaryUnitStatusRegistryText": UNIT_STATUS.get(status, "OutOfService"),
                "secondaryUnitStatusRegistryText": [],
                "resourceAttributeRegistryText": [],
                "unitStatusInternal": [status],
            }
        )
    return agents, resources


def _dispatches(doc: _Doc, history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dispatch component per assignment, referencing its unit and its trail notes."""
    by_assignment: dict[str, tuple[str, int, list[str]]] = {}
    first = max(0, len(history) - MAX_NOTES)
    for i, entry in enumerate(history[first:], start=first):
        asg, unit = entry.get("assignment"), entry.get("unit")
        if not asg or not unit:
            continue
        _, _, notes = by_assignment.get(str(asg), (str(unit), 0, []))
        by_assignment[str(asg)] = (str(unit), int(entry["at"]), [*notes, doc.sub("note", str(i))])
    return [
        {
            **doc.prologue(doc.sub("dispatch", asg), at),
            "agencyReference": _ref(doc.src.agency),
            "emergencyResourceReference": [_ref(doc.sub("resource", unit))],
            "notesReference": [_ref(n) for n in notes],
        }
        for asg, (unit, at, notes) in by_assignment.items()
    ]


def _merges(
    doc: _Doc,
    incident: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    linked: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Merge components, the code saying what this incident did: REPLACED (merged
    into another) or REPLACING (took another's reports)."""
    pairs: list[tuple[str, str, int]] = []
    into = incident.get("merged_into")
    if into:
        pairs.append(
            (str(into), "REPLACED", int(incident.get("closed_at") or incident["updated_at"]))
        )
    for entry in history:
        pairs += [(str(s), "REPLACING", int(entry["at"])) for s in entry.get("from") or ()]
    return [
        {
            **doc.prologue(doc.sub("merge", other), at),
            "incidentTrackingIdentifier": incident_urn(other, linked[other], doc.src.agency),
            "incidentMergeDirectionCode": code,
        }
        for other, code, at in pairs
        if other in linked  # an incident past its retention is no longer known
    ]


def _incident_component(
    doc: _Doc, incident: Mapping[str, Any], note_ids: Sequence[str]
) -> dict[str, Any]:
    category, status = str(incident["category"]), str(incident["status"])
    component: dict[str, Any] = {
        **doc.prologue(doc.sub("incident", "information"), int(incident["updated_at"])),
        "incidentTypeCommonRegistryText": INCIDENT_TYPES.get(category, "Other"),
        "incidentTypeInternalCode": category,
        "incidentTypeInternalText": doc.src.category_labels.get(category, category),
        "incidentStatusCommonRegistryText": [INCIDENT_STATUS.get(status, "Pending")],
        "incidentStatusInternalText": [status],
        "internalIncidentId": str(incident["id"]),
        "incidentPriorityInternalText": f"P{incident['priority']} (1 most urgent .. 5)",
        "incidentCommonPriorityNumber": int(incident["priority"]),
        "locationReference": [_ref(doc.sub("location", "incident"))],
    }
    if note_ids:
        component["notesReference"] = [_ref(n) for n in note_ids]
    return component


def incident_eido(
    src: EidoSource,
    incident: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    reports: Sequence[Mapping[str, Any]],
    unit_states: Mapping[str, str],
    linked: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The EIDO document of one incident.

    Args:
        src: the sending agency.
        incident: the incident view (the wire shape of docs/protocol.md).
        history: its audit trail, oldest first.
        reports: its reports (alert, at, text), oldest first.
        unit_states: status of each unit named by the incident or its trail.
        linked: `opened_at` of the incidents it was merged into or with (`merge_links`).
    """
    doc = _Doc(src, incident)
    updated = int(incident["updated_at"])
    trail = _trail_notes(doc, history)
    calls, report_notes = _calls(doc, reports)
    agents, resources = _resources(doc, _units(history, incident), unit_states, updated)
    eido: dict[str, Any] = {
        **doc.prologue(doc.incident_urn, updated),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": f"vigie.{src.agency}",
        "mergeComponent": _merges(doc, incident, history, linked or {}),
        "incidentComponent": _incident_component(doc, incident, [n["$id"] for n in trail]),
        "callComponent": calls,
        "dispatchComponent": _dispatches(doc, history),
        "notesComponent": trail + report_notes,
        "emergencyResourceComponent": resources,
        "agencyComponent": [
            {
                **doc.prologue(src.agency, updated),
                "agencyRoleDescriptionRegistryText": ["Dispatch"],
                "agencyType": [AGENCY_TYPE],
                "incidentOwningAgencyIndicator": True,
            }
        ],
        "agentComponent": agents,
        "locationComponent": [_location(doc, incident)],
    }
    return {k: v for k, v in eido.items() if v != []}
