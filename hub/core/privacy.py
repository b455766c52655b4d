"""Privacy by role: what each audience may learn of a place, and what an erasure removes.

Rule: consoles and the units covering an incident see its point; every other
audience (residents receiving a notice, the public reading Open311 answers or
feeds) sees at most a coarse H3 cell, at the resolution the tenant configures
for it. This module owns the coarsening, the check of a resident's id, and the
trace of an erased resident: what identifies their data in records that cannot
be rewritten (stream entries), so that those are deleted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import h3

from hub.core.messages import ID_MAX

__all__ = [
    "ERASED_BY",
    "ErasureTrace",
    "Place",
    "anonymous_place",
    "check_citizen_id",
    "coarse_cell",
    "coarse_cells",
    "notice_for_residents",
]

ERASED_BY = "erased"  # what an audit entry written by an erased resident says instead of them


def coarse_cell(cell: str, resolution: int) -> str:
    """The cell at `resolution` holding `cell` (a coarser cell stays as it is)."""
    if h3.get_resolution(cell) <= resolution:
        return cell
    return str(h3.cell_to_parent(cell, resolution))


def coarse_cells(cells: Iterable[str], resolution: int) -> list[str]:
    """Cells coarsened to `resolution`, each once, in their first order."""
    return list(dict.fromkeys(coarse_cell(c, resolution) for c in cells))


def notice_for_residents(body: Mapping[str, Any], resolution: int) -> dict[str, Any]:
    """A notice as residents receive it: its cells no finer than `resolution`.

    The console targets the notice as finely as it likes (who receives it); what
    the notice itself says of the place is coarse.
    """
    cells = body.get("cells")
    if not isinstance(cells, list):
        return dict(body)
    return {**body, "cells": coarse_cells((c for c in cells if isinstance(c, str)), resolution)}


@dataclass(frozen=True, slots=True)
class Place:
    """Where an anonymised incident is: the centre of a coarse cell, as hub-resolution data."""

    lat: float
    lon: float
    cell: str  # the hub-resolution cell at that centre: it tells no more than the coarse one


def anonymous_place(cell: str, coarse: int, hub_resolution: int) -> Place:
    """The place an incident keeps once the report that located it is erased."""
    parent = coarse_cell(cell, coarse)
    lat, lon = h3.cell_to_latlng(parent)
    centre = h3.cell_to_center_child(parent, hub_resolution) if coarse < hub_resolution else parent
    return Place(round(lat, 6), round(lon, 6), str(centre))


def check_citizen_id(value: object) -> str:
    """A resident's id as the tokens carry it (`sub`); ValueError says what is wrong."""
    if not isinstance(value, str) or not value:
        raise ValueError("citizen: a non-empty string is required")
    if len(value) > ID_MAX:
        raise ValueError(f"citizen: longer than {ID_MAX} characters")
    if not value.isprintable():
        raise ValueError("citizen: control characters are not allowed")
    return value


_POINT_EPSILON = 1e-9  # Lua's cjson writes 14 significant digits: compare, don't match bytes


@dataclass(frozen=True, slots=True)
class ErasureTrace:
    """What identifies an erased resident's data in stream entries.

    Stream entries cannot be rewritten, only deleted: an entry is deleted when it
    is addressed to the resident, or when it carries the view of an incident they
    reported whose text or point is one of theirs, or when it is what they wrote
    about one of their alerts (a conversation's answer, a rating).
    """

    citizen: str
    incidents: frozenset[str]
    texts: frozenset[str]
    points: tuple[tuple[float, float], ...]
    alerts: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, citizen: str, alerts: Iterable[Mapping[str, str]], incidents: Iterable[str] = ()
    ) -> ErasureTrace:
        """The trace of a resident's alerts (their stored fields), in their alerts'
        incidents and in `incidents` (merge sources, which their alerts left)."""
        rows = list(alerts)
        return cls(
            citizen,
            frozenset(a.get("incident", "") for a in rows) - {""} | frozenset(incidents),
            frozenset(a.get("text", "") for a in rows) - {""},
            tuple(_point(a) for a in rows if _point(a) is not None),  # type: ignore[misc]
            frozenset(a.get("id", "") for a in rows) - {""},
        )

    def reveals(self, to: str | None, body: Mapping[str, Any]) -> bool:
        """True when a stream entry (its `to` field and body) holds the resident's data."""
        if to == f"citizen:{self.citizen}":
            return True
        if body.get("alert") in self.alerts and (
            body.get("type") == "feedback"
            or (body.get("type") == "message" and body.get("from") == "reporter")
        ):
            return True
        incident = body.get("incident")
        if not isinstance(incident, Mapping) or incident.get("id") not in self.incidents:
            return False
        if incident.get("text") in self.texts:
            return True
        lat, lon = incident.get("lat"), incident.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return False
        return any(
            math.isclose(lat, a, abs_tol=_POINT_EPSILON)
            and math.isclose(lon, b, abs_tol=_POINT_EPSILON)
            for a, b in self.points
        )


def _point(alert: Mapping[str, str]) -> tuple[float, float] | None:
    try:
        return float(alert["lat"]), float(alert["lon"])
    except (KeyError, ValueError):
        return None
