"""What a usable record read back from Redis looks like, and what is skipped.

Rule: Redis is the source of truth, but not a trusted one: an operator's
mistake, a bug in an older version or a partial restore can leave a stream
entry without its fields, a hash with garbage in a number, a key of the wrong
type. Every reader of shared state turns raw fields into a typed record here,
or into a `BadRecord` that says which key and why. The caller logs it, counts
it (`vigie_bad_records_total`) and skips it; one bad record never stops a loop
nor hides the good records around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h3
import orjson

from hub.core.lifecycle import UNIT_UNSEEN
from hub.core.recommend import UnitInfo

__all__ = [
    "ENTRY_OBJECT",
    "BadRecord",
    "WaitingIncident",
    "entry_problem",
    "parse_int",
    "unit_change_problem",
    "unit_info",
    "waiting_incident",
]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record the hub cannot use: where it is (`source`, `key`) and why not."""

    source: str  # events, inbox, canary, incident, unit, deadline, ...
    key: str  # the entry id or the Redis key
    reason: str


# The object an entry of this kind must carry in its body: an incident entry
# without its incident would reach every console as a message it cannot show.
ENTRY_OBJECT: dict[str, str] = {"incident": "incident", "unit": "unit"}


def entry_problem(kind: str, body: Any) -> str | None:
    """Why a decoded stream entry is unusable, or None when it is fine."""
    if not kind:
        return "no kind (field k)"
    if not isinstance(body, dict):
        return "body (field d) is not a JSON object"
    if not isinstance(body.get("type"), str):
        return "body has no type"
    needed = ENTRY_OBJECT.get(kind)
    if needed is None:
        return None
    inner = body.get(needed)
    if not isinstance(inner, dict) or not isinstance(inner.get("id"), str):
        return f"{kind} entry without its {needed}"
    # The unit board feeds every recommendation: a unit change must be usable.
    return unit_change_problem(inner) if kind == "unit" else None


def parse_int(value: str | bytes | None, default: int | None = None) -> int | None:
    """An integer field of a hash ('12', '12.0'); `default` when absent, None when garbage."""
    if value is None or value == b"" or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number)


@dataclass(frozen=True, slots=True)
class WaitingIncident:
    """What queue aging needs of an incident in the queue."""

    id: str
    priority: int
    reporters: int
    opened_at: int
    status: str


def waiting_incident(
    incident_id: str, key: str, fields: Mapping[str, str | bytes | None]
) -> WaitingIncident | BadRecord | None:
    """An aging row from its hash fields; None when the incident is gone (no priority)."""
    if fields.get("priority") is None:
        return None
    priority = parse_int(fields.get("priority"))
    reporters = parse_int(fields.get("reporters"), 1)
    opened_at = parse_int(fields.get("opened_at"), 0)
    if priority is None or reporters is None or opened_at is None:
        named = {"opened_at": opened_at, "priority": priority, "reporters": reporters}
        garbage = ", ".join(name for name, value in named.items() if value is None)
        return BadRecord("incident", key, f"not a number: {garbage}")
    status = fields.get("status") or b""
    text = status.decode(errors="replace") if isinstance(status, bytes) else status
    return WaitingIncident(incident_id, priority, reporters, opened_at, text)


def _is_cell(value: object) -> bool:
    return isinstance(value, str) and bool(h3.is_valid_cell(value))


def _sector(raw: Any) -> tuple[str, ...] | None:
    """A sector (list of cells; Lua's cjson writes an empty one as {}), None if garbage."""
    if raw == {}:
        return ()
    if isinstance(raw, list) and all(_is_cell(c) for c in raw):
        return tuple(raw)
    return None


def unit_info(unit_id: str, key: str, fields: Mapping[str, bytes | None]) -> UnitInfo | BadRecord:
    """A unit of the board from its hash fields (status, sessions, cell, sector)."""
    sessions = parse_int(fields.get("sessions"), 0)
    cell = fields.get("cell")
    sector_raw = fields.get("sector")
    try:
        sector = _sector(orjson.loads(sector_raw)) if sector_raw else ()
        cell_s = cell.decode() if cell else None
        status = (fields.get("status") or UNIT_UNSEEN.encode()).decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return BadRecord("unit", key, "sector, cell or status is not valid text")
    if sessions is None:
        return BadRecord("unit", key, "sessions is not a number")
    if sector is None:
        return BadRecord("unit", key, "sector is not a list of H3 cells")
    if cell_s is not None and not _is_cell(cell_s):
        return BadRecord("unit", key, "cell is not an H3 cell")
    return UnitInfo(unit_id, status, sessions > 0, cell_s, sector)


def unit_change_problem(unit: Mapping[str, Any]) -> str | None:
    """Why the unit of a `unit` event cannot update the board, or None when it can."""
    if unit.get("cell") is not None and not _is_cell(unit["cell"]):
        return "cell is not an H3 cell"
    if unit.get("sector") is not None and _sector(unit["sector"]) is None:
        return "sector is not a list of H3 cells"
    if unit.get("status") is not None and not isinstance(unit["status"], str):
        return "status is not text"
    if unit.get("online") is not None and not isinstance(unit["online"], bool):
        return "online is not true or false"
    return None
