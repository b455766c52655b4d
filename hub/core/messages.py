"""Typed client messages: frozen dataclasses, one per v1 message `type`.

Rule: a raw dict from the wire is turned into one of these in `parse_message`
and never travels further. Validation here is context-free (types, ranges,
lengths, H3 validity); checks that need the tenant (area, categories, hub
resolution) live in the handlers that own that context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import h3

from hub.core.errors import ErrorCode, ProtocolError
from hub.core.xmltext import XML_FORBIDDEN

__all__ = [
    "NOTICE_EXPIRES_MAX_S",
    "NOTICE_EXPIRES_MIN_S",
    "ROLES",
    "AlertCancel",
    "AlertFeedback",
    "AlertSubmit",
    "AssignmentAccept",
    "AssignmentDecline",
    "CitizenFollow",
    "ClientMessage",
    "Cover",
    "DispatchAssign",
    "Hello",
    "IncidentHistory",
    "IncidentMerge",
    "IncidentPublish",
    "IncidentRecommend",
    "IncidentStatus",
    "IncidentUpdate",
    "MessageReply",
    "MessageSend",
    "NeighbourCorroborate",
    "NeighboursFollow",
    "Notice",
    "UnitPosition",
    "UnitStatus",
    "allowed_roles",
    "parse_message",
]

ROLES: Final = ("citizen", "unit", "console")
REF_MAX: Final = 64
ID_MAX: Final = 64
NOTE_MAX: Final = 1000
TEXT_MAX: Final = 1000  # the protocol's limit; a tenant may configure less
MESSAGE_MAX: Final = 1000  # a conversation's message, a feedback comment
MAX_CELLS: Final = 2000
MAX_SECTOR_CELLS: Final = 500
MAX_RESUME_STREAMS: Final = 8
UNIT_STATUSES: Final = ("available", "en_route", "on_scene", "busy", "off_duty")
SEVERITIES: Final = ("info", "warning", "danger")
NOTICE_EXPIRES_MIN_S: Final = 60
NOTICE_EXPIRES_MAX_S: Final = 30 * 86_400
# h3 parses cell strings with int(s, 16), which also takes upper case, a sign,
# whitespace, underscores and leading zeros; the hub indexes the canonical form only.
_CELL_FORM: Final = re.compile(r"[0-9a-f]{15}")


# -- field readers: each raises ProtocolError(bad_request) naming the field ---------


def _bad(field: str, why: str, ref: str | None) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, f"{field}: {why}", ref=ref)


def _str(
    raw: Mapping[str, Any], key: str, ref: str | None, *, max_len: int, required: bool = True
) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise _bad(key, "is required", ref)
        return None
    if not isinstance(value, str):
        raise _bad(key, "must be a string", ref)
    if required and not value:
        raise _bad(key, "must not be empty", ref)
    if len(value) > max_len:
        code = ErrorCode.TOO_LARGE if max_len >= NOTE_MAX else ErrorCode.BAD_REQUEST
        raise ProtocolError(code, f"{key}: longer than {max_len} characters", ref=ref)
    return value


def _req_str(raw: Mapping[str, Any], key: str, ref: str | None, max_len: int = ID_MAX) -> str:
    value = _str(raw, key, ref, max_len=max_len)
    assert value is not None  # required=True guarantees it
    return value


def _number(
    raw: Mapping[str, Any], key: str, ref: str | None, lo: float, hi: float, *, required: bool
) -> float | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise _bad(key, "is required", ref)
        return None
    # bool is an int subclass: true/false are not coordinates.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(key, "must be a number", ref)
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = math.inf
    if not math.isfinite(number) or not lo <= number <= hi:
        raise _bad(key, f"must be a finite number in [{lo}, {hi}]", ref)
    return number


def _req_number(raw: Mapping[str, Any], key: str, ref: str | None, lo: float, hi: float) -> float:
    value = _number(raw, key, ref, lo, hi, required=True)
    assert value is not None
    return value


def _choice(raw: Mapping[str, Any], key: str, ref: str | None, choices: tuple[str, ...]) -> str:
    value = raw.get(key)
    if value not in choices:
        raise _bad(key, f"must be one of {', '.join(choices)}", ref)
    assert isinstance(value, str)
    return value


def _cells(raw: Mapping[str, Any], key: str, ref: str | None) -> tuple[str, ...]:
    value = raw.get(key)
    if not isinstance(value, list):
        raise _bad(key, "must be a list of H3 cells", ref)
    if len(value) > MAX_CELLS:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"{key}: more than {MAX_CELLS} cells", ref=ref)
    for cell in value:
        if (
            not isinstance(cell, str)
            or not _CELL_FORM.fullmatch(cell)
            or not h3.is_valid_cell(cell)
        ):
            raise _bad(key, f"{str(cell)[:20]!r} is not a valid H3 cell", ref)
    return tuple(dict.fromkeys(value))  # dedupe, keep order


# -- the messages -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of a session: the JWT and the offsets to resume from."""

    token: str
    resume: Mapping[str, str]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class AlertSubmit:
    """A citizen's report."""

    ref: str
    category: str
    lat: float
    lon: float
    text: str
    accuracy_m: float | None


@dataclass(frozen=True, slots=True)
class AlertCancel:
    """A citizen withdraws its alert."""

    alert: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class CitizenFollow:
    """A citizen's home area / current cells, for notices."""

    cells: tuple[str, ...]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class UnitPosition:
    """A patrol unit's position fix."""

    lat: float
    lon: float
    at: int | None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """A patrol unit's status."""

    status: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Cover:
    """A patrol unit's sector: H3 cells at any resolution <= the hub's."""

    cells: tuple[str, ...]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentAccept:
    """A unit accepts an assignment."""

    assignment: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class AssignmentDecline:
    """A unit declines an assignment."""

    assignment: str
    reason: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentStatus:
    """A unit reports progress on an incident."""

    incident: str
    status: str
    note: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class DispatchAssign:
    """A console assigns an incident to a unit."""

    incident: str
    unit: str
    timeout_s: int | None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """A console changes an incident's priority, status or note."""

    incident: str
    priority: int | None
    status: str | None
    note: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentMerge:
    """A console merges duplicate incidents into one."""

    into: str
    sources: tuple[str, ...]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A console broadcasts a notice to residents of some cells."""

    cells: tuple[str, ...]
    text: str
    severity: str
    ref: str | None = None
    expires_s: int | None = None  # None: the tenant's `notice_expires_s`


@dataclass(frozen=True, slots=True)
class IncidentRecommend:
    """A console asks for the best units for an incident."""

    incident: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentHistory:
    """A console asks for an incident's audit trail."""

    incident: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class MessageSend:
    """The control room writes to the reporters of an incident (or one alert's reporter)."""

    incident: str
    text: str
    alert: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class MessageReply:
    """A reporter answers about one of its own alerts."""

    alert: str
    text: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class AlertFeedback:
    """A reporter rates how its alert was handled (1..5), once, after the end."""

    alert: str
    score: int
    comment: str = ""
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class NeighboursFollow:
    """A resident opts in to the neighbours' feed of these cells (none: opts out)."""

    cells: tuple[str, ...]
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class NeighbourCorroborate:
    """A neighbour's "me too" on a published incident."""

    incident: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentPublish:
    """The control room publishes an incident to its neighbours, or unpublishes it."""

    incident: str
    published: bool
    ref: str | None = None


ClientMessage = (
    Hello
    | AlertSubmit
    | AlertCancel
    | CitizenFollow
    | UnitPosition
    | UnitStatus
    | Cover
    | AssignmentAccept
    | AssignmentDecline
    | IncidentStatus
    | DispatchAssign
    | IncidentUpdate
    | IncidentMerge
    | Notice
    | IncidentRecommend
    | IncidentHistory
    | MessageSend
    | MessageReply
    | AlertFeedback
    | NeighboursFollow
    | NeighbourCorroborate
    | IncidentPublish
)


# -- parsers: one small function per type ------------------------------------------


def _hello(raw: Mapping[str, Any], ref: str | None) -> Hello:
    resume = raw.get("resume") or {}
    if not isinstance(resume, dict) or len(resume) > MAX_RESUME_STREAMS:
        raise _bad("resume", "must be a map of stream name to offset", ref)
    for key, value in resume.items():
        if not isinstance(key, str) or not isinstance(value, str) or len(value) > 64:
            raise _bad("resume", "stream names and offsets must be strings", ref)
    return Hello(_req_str(raw, "token", ref, max_len=4096), dict(resume), ref)


def _alert_submit(raw: Mapping[str, Any], ref: str | None) -> AlertSubmit:
    if ref is None:
        raise _bad("ref", "is required for alert.submit (it makes the submit idempotent)", ref)
    return AlertSubmit(
        ref=ref,
        category=_req_str(raw, "category", ref),
        lat=_req_number(raw, "lat", ref, -90.0, 90.0),
        lon=_req_number(raw, "lon", ref, -180.0, 180.0),
        text=_str(raw, "text", ref, max_len=TEXT_MAX, required=False) or "",
        accuracy_m=_number(raw, "accuracy_m", ref, 0.0, 100_000.0, required=False),
    )


def _sector(raw: Mapping[str, Any], ref: str | None) -> tuple[str, ...]:
    cells = _cells(raw, "cells", ref)
    if len(cells) > MAX_SECTOR_CELLS:
        # A sector travels in coverage events and the unit board: keep it small
        # (use coarser cells: a res-7 cell is ~5 km², a whole town is a few dozen).
        raise ProtocolError(
            ErrorCode.TOO_LARGE, f"cells: a sector has at most {MAX_SECTOR_CELLS} cells", ref=ref
        )
    return cells


def _unit_position(raw: Mapping[str, Any], ref: str | None) -> UnitPosition:
    at = _number(raw, "at", ref, 0, 2**53, required=False)
    return UnitPosition(
        _req_number(raw, "lat", ref, -90.0, 90.0),
        _req_number(raw, "lon", ref, -180.0, 180.0),
        None if at is None else int(at),
        ref,
    )


def _dispatch_assign(raw: Mapping[str, Any], ref: str | None) -> DispatchAssign:
    timeout = _number(raw, "timeout_s", ref, 5, 3600, required=False)
    return DispatchAssign(
        _req_str(raw, "incident", ref),
        _req_str(raw, "unit", ref),
        None if timeout is None else int(timeout),
        ref,
    )


def _incident_update(raw: Mapping[str, Any], ref: str | None) -> IncidentUpdate:
    prio = _number(raw, "priority", ref, 1, 5, required=False)
    if prio is not None and prio != int(prio):
        raise _bad("priority", "must be an integer 1..5", ref)
    status = None
    if raw.get("status") is not None:
        status = _choice(raw, "status", ref, ("acknowledged", "closed", "rejected"))
    note = _str(raw, "note", ref, max_len=NOTE_MAX, required=False) or ""
    if prio is None and status is None and not note:
        raise _bad("incident.update", "needs priority, status or note", ref)
    return IncidentUpdate(
        _req_str(raw, "incident", ref), None if prio is None else int(prio), status, note, ref
    )


def _incident_merge(raw: Mapping[str, Any], ref: str | None) -> IncidentMerge:
    sources = raw.get("from")
    if not isinstance(sources, list) or not sources or len(sources) > 50:
        raise _bad("from", "must be a list of 1..50 incident ids", ref)
    if not all(isinstance(s, str) and 0 < len(s) <= ID_MAX for s in sources):
        raise _bad("from", "incident ids must be non-empty strings", ref)
    return IncidentMerge(_req_str(raw, "into", ref), tuple(dict.fromkeys(sources)), ref)


def _notice(raw: Mapping[str, Any], ref: str | None) -> Notice:
    cells = _cells(raw, "cells", ref)
    if not cells:
        raise _bad("cells", "must name at least one cell", ref)
    text = _req_str(raw, "text", ref, max_len=TEXT_MAX)
    if XML_FORBIDDEN.search(text):
        # A notice is also a CAP document (docs/interop.md): XML 1.0 cannot carry these.
        raise _bad("text", "control characters other than tab and newline are not allowed", ref)
    expires = _number(
        raw, "expires_s", ref, NOTICE_EXPIRES_MIN_S, NOTICE_EXPIRES_MAX_S, required=False
    )
    return Notice(
        cells,
        text,
        _choice(raw, "severity", ref, SEVERITIES) if "severity" in raw else "info",
        ref,
        None if expires is None else int(expires),
    )


def _message_text(raw: Mapping[str, Any], ref: str | None) -> str:
    text = _req_str(raw, "text", ref, max_len=MESSAGE_MAX)
    if not text.strip():
        raise _bad("text", "must not be blank", ref)
    return text


def _message_send(raw: Mapping[str, Any], ref: str | None) -> MessageSend:
    if ref is None:
        raise _bad("ref", "is required for message.send (it makes the send idempotent)", ref)
    alert = _str(raw, "alert", ref, max_len=ID_MAX, required=False)
    return MessageSend(_req_str(raw, "incident", ref), _message_text(raw, ref), alert, ref)


def _message_reply(raw: Mapping[str, Any], ref: str | None) -> MessageReply:
    if ref is None:
        raise _bad("ref", "is required for message.reply (it makes the reply idempotent)", ref)
    return MessageReply(_req_str(raw, "alert", ref), _message_text(raw, ref), ref)


def _alert_feedback(raw: Mapping[str, Any], ref: str | None) -> AlertFeedback:
    score = _number(raw, "score", ref, 1, 5, required=True)
    if score is None or score != int(score):
        raise _bad("score", "must be an integer 1..5", ref)
    comment = _str(raw, "comment", ref, max_len=MESSAGE_MAX, required=False) or ""
    return AlertFeedback(_req_str(raw, "alert", ref), int(score), comment, ref)


def _neighbour_corroborate(raw: Mapping[str, Any], ref: str | None) -> NeighbourCorroborate:
    if ref is None:
        raise _bad("ref", "is required for neighbour.corroborate (it makes it idempotent)", ref)
    return NeighbourCorroborate(_req_str(raw, "incident", ref), ref)


def _incident_publish(raw: Mapping[str, Any], ref: str | None) -> IncidentPublish:
    published = raw.get("published", True)
    if not isinstance(published, bool):
        raise _bad("published", "must be true or false", ref)
    return IncidentPublish(_req_str(raw, "incident", ref), published, ref)


_Parser = Callable[[Mapping[str, Any], str | None], ClientMessage]

_PARSERS: Final[dict[str, _Parser]] = {
    "hello": _hello,
    "alert.submit": _alert_submit,
    "alert.cancel": lambda r, ref: AlertCancel(_req_str(r, "alert", ref), ref),
    "citizen.follow": lambda r, ref: CitizenFollow(_cells(r, "cells", ref), ref),
    "unit.position": _unit_position,
    "unit.status": lambda r, ref: UnitStatus(_choice(r, "status", ref, UNIT_STATUSES), ref),
    "cover": lambda r, ref: Cover(_sector(r, ref), ref),
    "assignment.accept": lambda r, ref: AssignmentAccept(_req_str(r, "assignment", ref), ref),
    "assignment.decline": lambda r, ref: AssignmentDecline(
        _req_str(r, "assignment", ref),
        _str(r, "reason", ref, max_len=NOTE_MAX, required=False) or "",
        ref,
    ),
    "incident.status": lambda r, ref: IncidentStatus(
        _req_str(r, "incident", ref),
        _choice(r, "status", ref, ("on_scene", "resolved")),
        _str(r, "note", ref, max_len=NOTE_MAX, required=False) or "",
        ref,
    ),
    "dispatch.assign": _dispatch_assign,
    "incident.update": _incident_update,
    "incident.merge": _incident_merge,
    "notice": _notice,
    "incident.recommend": lambda r, ref: IncidentRecommend(_req_str(r, "incident", ref), ref),
    "incident.history": lambda r, ref: IncidentHistory(_req_str(r, "incident", ref), ref),
    "message.send": _message_send,
    "message.reply": _message_reply,
    "alert.feedback": _alert_feedback,
    "neighbours.follow": lambda r, ref: NeighboursFollow(_cells(r, "cells", ref), ref),
    "neighbour.corroborate": _neighbour_corroborate,
    "incident.publish": _incident_publish,
}

# Which roles may send which type; anything else is `forbidden` (hello: everyone).
_ROLES_BY_TYPE: Final[dict[str, frozenset[str]]] = {
    "hello": frozenset(ROLES),
    "alert.submit": frozenset({"citizen"}),
    "alert.cancel": frozenset({"citizen"}),
    "citizen.follow": frozenset({"citizen"}),
    "unit.position": frozenset({"unit"}),
    "unit.status": frozenset({"unit"}),
    "cover": frozenset({"unit"}),
    "assignment.accept": frozenset({"unit"}),
    "assignment.decline": frozenset({"unit"}),
    "incident.status": frozenset({"unit"}),
    "dispatch.assign": frozenset({"console"}),
    "incident.update": frozenset({"console"}),
    "incident.merge": frozenset({"console"}),
    "notice": frozenset({"console"}),
    "incident.recommend": frozenset({"console"}),
    "incident.history": frozenset({"console"}),
    "message.send": frozenset({"console"}),
    "message.reply": frozenset({"citizen"}),
    "alert.feedback": frozenset({"citizen"}),
    "neighbours.follow": frozenset({"citizen"}),
    "neighbour.corroborate": frozenset({"citizen"}),
    "incident.publish": frozenset({"console"}),
}


def allowed_roles(msg_type: str) -> frozenset[str]:
    """The roles that may send `msg_type` (empty for unknown types)."""
    return _ROLES_BY_TYPE.get(msg_type, frozenset())


def read_ref(raw: Mapping[str, Any]) -> str | None:
    """The message's `ref` if it is a valid one (1..64 chars), else None."""
    ref = raw.get("ref")
    if isinstance(ref, str) and 0 < len(ref) <= REF_MAX:
        return ref
    return None


def parse_message(raw: Any, role: str | None = None) -> ClientMessage:
    """Turn one decoded frame into a typed message, checking the sender's role.

    Raises:
        ProtocolError: `bad_request`, `unknown_type`, `forbidden` or `too_large`,
            carrying the message's `ref` when it had a valid one.
    """
    if not isinstance(raw, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a frame must be one map/object")
    ref = read_ref(raw)
    if "ref" in raw and ref is None:
        raise _bad("ref", f"must be a string of 1..{REF_MAX} characters", None)
    msg_type = raw.get("type")
    if not isinstance(msg_type, str):
        raise _bad("type", "is required and must be a string", ref)
    parser = _PARSERS.get(msg_type)
    if parser is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {msg_type[:40]!r}", ref=ref
        )
    if role is not None and role not in allowed_roles(msg_type):
        raise ProtocolError(ErrorCode.FORBIDDEN, f"a {role} may not send {msg_type}", ref=ref)
    return parser(raw, ref)
