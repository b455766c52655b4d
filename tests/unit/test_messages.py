"""Client messages: every v1 type parses; malformed, oversized and forbidden ones do not."""

from __future__ import annotations

import math
from typing import Any

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.errors import ErrorCode, ProtocolError
from hub.core.messages import (
    ROLES,
    AlertCancel,
    AlertSubmit,
    AssignmentAccept,
    AssignmentDecline,
    CitizenFollow,
    ClientMessage,
    Cover,
    DispatchAssign,
    Hello,
    IncidentHistory,
    IncidentMerge,
    IncidentRecommend,
    IncidentStatus,
    IncidentUpdate,
    Notice,
    UnitPosition,
    UnitStatus,
    allowed_roles,
    parse_message,
)

CELL = str(h3.latlng_to_cell(43.1839, 3.0042, 9))  # Narbonne centre, hub resolution
CELL7 = str(h3.cell_to_parent(CELL, 7))  # a sector cell
OTHER = str(h3.latlng_to_cell(43.16, 3.16, 9))  # Narbonne-Plage
LONG_TEXT = "é" * 1001

# One valid message per v1 type, each with a ref so errors can be matched to it.
VALID: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "token": "a.b.c", "resume": {"events": "1764153600000-0"}},
    "alert.submit": {
        "type": "alert.submit",
        "category": "noise",
        "lat": 43.1839,
        "lon": 3.0042,
        "text": "musique très forte",
        "accuracy_m": 15,
    },
    "alert.cancel": {"type": "alert.cancel", "alert": "al-1"},
    "citizen.follow": {"type": "citizen.follow", "cells": [CELL, OTHER]},
    "unit.position": {"type": "unit.position", "lat": 43.2, "lon": 3.01, "at": 1764153600000},
    "unit.status": {"type": "unit.status", "status": "en_route"},
    "cover": {"type": "cover", "cells": [CELL7, CELL]},
    "assignment.accept": {"type": "assignment.accept", "assignment": "as-1"},
    "assignment.decline": {"type": "assignment.decline", "assignment": "as-1", "reason": "busy"},
    "incident.status": {
        "type": "incident.status",
        "incident": "in-1",
        "status": "on_scene",
        "note": "arrived",
    },
    "dispatch.assign": {
        "type": "dispatch.assign",
        "incident": "in-1",
        "unit": "u-7",
        "timeout_s": 90,
    },
    "incident.update": {
        "type": "incident.update",
        "incident": "in-1",
        "priority": 2,
        "status": "acknowledged",
        "note": "seen on camera",
    },
    "incident.merge": {"type": "incident.merge", "into": "in-1", "from": ["in-2", "in-3"]},
    "notice": {"type": "notice", "cells": [CELL], "text": "Route barrée", "severity": "warning"},
    "incident.recommend": {"type": "incident.recommend", "incident": "in-1"},
    "incident.history": {"type": "incident.history", "incident": "in-1"},
}
for _type, _raw in VALID.items():
    _raw["ref"] = f"ref-{_type}"

EXPECTED: dict[str, ClientMessage] = {
    "hello": Hello("a.b.c", {"events": "1764153600000-0"}, "ref-hello"),
    "alert.submit": AlertSubmit(
        "ref-alert.submit", "noise", 43.1839, 3.0042, "musique très forte", 15.0
    ),
    "alert.cancel": AlertCancel("al-1", "ref-alert.cancel"),
    "citizen.follow": CitizenFollow((CELL, OTHER), "ref-citizen.follow"),
    "unit.position": UnitPosition(43.2, 3.01, 1764153600000, "ref-unit.position"),
    "unit.status": UnitStatus("en_route", "ref-unit.status"),
    "cover": Cover((CELL7, CELL), "ref-cover"),
    "assignment.accept": AssignmentAccept("as-1", "ref-assignment.accept"),
    "assignment.decline": AssignmentDecline("as-1", "busy", "ref-assignment.decline"),
    "incident.status": IncidentStatus("in-1", "on_scene", "arrived", "ref-incident.status"),
    "dispatch.assign": DispatchAssign("in-1", "u-7", 90, "ref-dispatch.assign"),
    "incident.update": IncidentUpdate(
        "in-1", 2, "acknowledged", "seen on camera", "ref-incident.update"
    ),
    "incident.merge": IncidentMerge("in-1", ("in-2", "in-3"), "ref-incident.merge"),
    "notice": Notice((CELL,), "Route barrée", "warning", "ref-notice"),
    "incident.recommend": IncidentRecommend("in-1", "ref-incident.recommend"),
    "incident.history": IncidentHistory("in-1", "ref-incident.history"),
}

# Who may send what, read from protocol.md (Citizens / Patrol units / Control-room consoles).
SENDERS: dict[str, set[str]] = {
    "hello": {"citizen", "unit", "console"},
    "alert.submit": {"citizen"},
    "alert.cancel": {"citizen"},
    "citizen.follow": {"citizen"},
    "unit.position": {"unit"},
    "unit.status": {"unit"},
    "cover": {"unit"},
    "assignment.accept": {"unit"},
    "assignment.decline": {"unit"},
    "incident.status": {"unit"},
    "dispatch.assign": {"console"},
    "incident.update": {"console"},
    "incident.merge": {"console"},
    "notice": {"console"},
    "incident.recommend": {"console"},
    "incident.history": {"console"},
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "hello": ("token",),
    "alert.submit": ("category", "lat", "lon"),
    "alert.cancel": ("alert",),
    "citizen.follow": ("cells",),
    "unit.position": ("lat", "lon"),
    "unit.status": ("status",),
    "cover": ("cells",),
    "assignment.accept": ("assignment",),
    "assignment.decline": ("assignment",),
    "incident.status": ("incident", "status"),
    "dispatch.assign": ("incident", "unit"),
    "incident.update": ("incident",),
    "incident.merge": ("into", "from"),
    "notice": ("cells", "text"),
    "incident.recommend": ("incident",),
    "incident.history": ("incident",),
}

OPTIONAL: dict[str, tuple[str, ...]] = {
    "hello": ("resume",),
    "alert.submit": ("text", "accuracy_m"),
    "unit.position": ("at",),
    "assignment.decline": ("reason",),
    "incident.status": ("note",),
    "dispatch.assign": ("timeout_s",),
    "notice": ("severity",),
}

# field -> kind, for the wrong-type matrix
KINDS: dict[str, dict[str, str]] = {
    "hello": {"token": "str", "resume": "resume"},
    "alert.submit": {
        "category": "id",
        "lat": "num",
        "lon": "num",
        "text": "str",
        "accuracy_m": "num",
    },
    "alert.cancel": {"alert": "id"},
    "citizen.follow": {"cells": "cells"},
    "unit.position": {"lat": "num", "lon": "num", "at": "num"},
    "unit.status": {"status": "choice"},
    "cover": {"cells": "cells"},
    "assignment.accept": {"assignment": "id"},
    "assignment.decline": {"assignment": "id", "reason": "str"},
    "incident.status": {"incident": "id", "status": "choice", "note": "str"},
    "dispatch.assign": {"incident": "id", "unit": "id", "timeout_s": "num"},
    "incident.update": {"incident": "id", "priority": "num", "status": "choice", "note": "str"},
    "incident.merge": {"into": "id", "from": "ids"},
    "notice": {"cells": "cells", "text": "str", "severity": "choice"},
    "incident.recommend": {"incident": "id"},
    "incident.history": {"incident": "id"},
}

WRONG: dict[str, list[Any]] = {
    "id": [5, 1.5, True, ["x"], {"a": "b"}],
    "str": [5, 1.5, False, ["x"], {"a": "b"}],
    "num": [True, False, "43.1", "1", [43.1], {"v": 1}],
    "choice": ["nope", "", 5, True, ["on_scene"], {"a": 1}],
    "cells": [CELL, {"c": CELL}, [5], [True], [None], [[CELL]], ["nothex"]],
    "ids": ["in-2", {"in-2": 1}, [5], [""], [], [["in-2"]]],
    "resume": [["events"], "events", 5, {"events": 5}, {"events": ["1-0"]}],
}

FIELD_CASES = [
    (mtype, field, value)
    for mtype, fields in KINDS.items()
    for field, kind in fields.items()
    for value in WRONG[kind]
]


def with_(mtype: str, **changes: Any) -> dict[str, Any]:
    raw = dict(VALID[mtype])
    raw.update(changes)
    return raw


def without(mtype: str, *fields: str) -> dict[str, Any]:
    return {k: v for k, v in VALID[mtype].items() if k not in fields}


def fails(raw: Any, role: str | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse_message(raw, role)
    return info.value


def assert_error(raw: dict[str, Any], code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
    err = fails(raw)
    assert err.code is code, err.message
    assert err.ref == raw.get("ref")
    assert err.to_message()["ref"] == raw.get("ref")


def test_the_tables_cover_every_type() -> None:
    assert set(VALID) == set(EXPECTED) == set(SENDERS) == set(REQUIRED) == set(KINDS)


# -- valid messages -----------------------------------------------------------------


@pytest.mark.parametrize("mtype", sorted(VALID))
def test_every_type_parses(mtype: str) -> None:
    assert parse_message(VALID[mtype]) == EXPECTED[mtype]


@pytest.mark.parametrize("mtype", sorted(VALID))
def test_every_type_parses_for_its_senders(mtype: str) -> None:
    for role in SENDERS[mtype]:
        assert parse_message(VALID[mtype], role) == EXPECTED[mtype]


@pytest.mark.parametrize("mtype", sorted(VALID))
def test_parsed_messages_are_frozen(mtype: str) -> None:
    msg = parse_message(VALID[mtype])
    with pytest.raises(AttributeError):
        msg.ref = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mtype", "field"), [(t, f) for t, fields in OPTIONAL.items() for f in fields]
)
def test_optional_fields_may_be_left_out(mtype: str, field: str) -> None:
    parse_message(without(mtype, field))


def test_ref_is_optional_except_for_alert_submit() -> None:
    for mtype in VALID:
        if mtype != "alert.submit":
            assert parse_message(without(mtype, "ref")).ref is None
    err = fails(without("alert.submit", "ref"))
    assert err.code is ErrorCode.BAD_REQUEST
    assert err.ref is None


def test_defaults_of_optional_fields() -> None:
    alert = parse_message(without("alert.submit", "text", "accuracy_m"))
    assert isinstance(alert, AlertSubmit)
    assert (alert.text, alert.accuracy_m) == ("", None)
    hello = parse_message(without("hello", "resume"))
    assert isinstance(hello, Hello) and hello.resume == {}
    notice = parse_message(without("notice", "severity"))
    assert isinstance(notice, Notice) and notice.severity == "info"
    assign = parse_message(without("dispatch.assign", "timeout_s"))
    assert isinstance(assign, DispatchAssign) and assign.timeout_s is None
    position = parse_message(without("unit.position", "at"))
    assert isinstance(position, UnitPosition) and position.at is None


def test_cells_and_merge_sources_are_deduplicated_in_order() -> None:
    follow = parse_message(with_("citizen.follow", cells=[OTHER, CELL, OTHER]))
    assert isinstance(follow, CitizenFollow) and follow.cells == (OTHER, CELL)
    merge = parse_message(with_("incident.merge", **{"from": ["b", "a", "b"]}))
    assert isinstance(merge, IncidentMerge) and merge.sources == ("b", "a")


@pytest.mark.parametrize("status", ["available", "en_route", "on_scene", "busy", "off_duty"])
def test_every_unit_status(status: str) -> None:
    assert parse_message(with_("unit.status", status=status)) == UnitStatus(
        status, "ref-unit.status"
    )


@pytest.mark.parametrize("status", ["acknowledged", "closed", "rejected"])
def test_every_console_incident_status(status: str) -> None:
    msg = parse_message(with_("incident.update", status=status))
    assert isinstance(msg, IncidentUpdate) and msg.status == status


@pytest.mark.parametrize("severity", ["info", "warning", "danger"])
def test_every_notice_severity(severity: str) -> None:
    msg = parse_message(with_("notice", severity=severity))
    assert isinstance(msg, Notice) and msg.severity == severity


@pytest.mark.parametrize("field", ["priority", "status", "note"])
def test_incident_update_needs_only_one_change(field: str) -> None:
    others = {"priority", "status", "note"} - {field}
    parse_message(without("incident.update", *others))


def test_incident_update_with_no_change_is_bad_request() -> None:
    assert_error(without("incident.update", "priority", "status", "note"))
    assert_error(with_("incident.update", priority=None, status=None, note=""))


def test_integral_floats_are_accepted_as_integers() -> None:
    update = parse_message(with_("incident.update", priority=3.0))
    assert isinstance(update, IncidentUpdate) and update.priority == 3
    assign = parse_message(with_("dispatch.assign", timeout_s=30.0))
    assert isinstance(assign, DispatchAssign) and assign.timeout_s == 30


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), (0, 0), (90.0, -180.0), (43, 3)])
def test_coordinate_bounds_are_inclusive(lat: float, lon: float) -> None:
    for mtype in ("alert.submit", "unit.position"):
        msg = parse_message(with_(mtype, lat=lat, lon=lon))
        assert isinstance(msg, AlertSubmit | UnitPosition)
        assert (msg.lat, msg.lon) == (float(lat), float(lon))
        assert isinstance(msg.lat, float)


def test_limits_are_inclusive() -> None:
    parse_message(with_("alert.submit", text="x" * 1000, category="c" * 64))
    parse_message(with_("alert.cancel", alert="a" * 64, ref="r" * 64))
    parse_message(with_("hello", token="t" * 4096))
    parse_message(with_("citizen.follow", cells=[CELL] * 2000))
    parse_message(with_("incident.merge", **{"from": [f"in-{i}" for i in range(50)]}))
    parse_message(with_("hello", resume={f"s{i}": "1-0" for i in range(8)}))
    parse_message(with_("dispatch.assign", timeout_s=5))
    parse_message(with_("dispatch.assign", timeout_s=3600))


def test_role_none_skips_the_role_check() -> None:
    for raw in VALID.values():
        parse_message(raw, None)


# -- missing fields and wrong types -------------------------------------------------


@pytest.mark.parametrize(
    ("mtype", "field"), [(t, f) for t, fields in REQUIRED.items() for f in fields]
)
def test_missing_required_field_is_bad_request(mtype: str, field: str) -> None:
    assert_error(without(mtype, field))
    assert field in fails(without(mtype, field)).message


@pytest.mark.parametrize(
    ("mtype", "field"),
    [(t, f) for t, fields in REQUIRED.items() for f in fields if KINDS[t][f] in ("id", "str")],
)
def test_empty_required_string_is_bad_request(mtype: str, field: str) -> None:
    assert_error(with_(mtype, **{field: ""}))


@pytest.mark.parametrize(
    ("mtype", "field"), [(t, f) for t, fields in REQUIRED.items() for f in fields]
)
def test_null_required_field_is_bad_request(mtype: str, field: str) -> None:
    assert_error(with_(mtype, **{field: None}))


@pytest.mark.parametrize(("mtype", "field", "value"), FIELD_CASES)
def test_wrong_type_is_bad_request(mtype: str, field: str, value: Any) -> None:
    assert_error(with_(mtype, **{field: value}))


# -- numbers and coordinates --------------------------------------------------------

NOT_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("mtype", ["alert.submit", "unit.position"])
@pytest.mark.parametrize("field", ["lat", "lon"])
@pytest.mark.parametrize("value", NOT_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_coordinates_are_bad_request(mtype: str, field: str, value: float) -> None:
    assert_error(with_(mtype, **{field: value}))


@pytest.mark.parametrize("mtype", ["alert.submit", "unit.position"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lat", 90.0001),
        ("lat", -90.5),
        ("lat", 1e300),
        ("lon", 180.0001),
        ("lon", -181),
        ("lon", 360),
    ],
)
def test_out_of_range_coordinates_are_bad_request(mtype: str, field: str, value: float) -> None:
    assert_error(with_(mtype, **{field: value}))


@pytest.mark.parametrize(
    ("mtype", "field", "value"),
    [
        ("alert.submit", "accuracy_m", -1),
        ("alert.submit", "accuracy_m", 100_001),
        ("alert.submit", "accuracy_m", math.nan),
        ("unit.position", "at", -1),
        ("unit.position", "at", 2**53 + 10),
        ("unit.position", "at", math.inf),
        ("dispatch.assign", "timeout_s", 4),
        ("dispatch.assign", "timeout_s", 3601),
        ("dispatch.assign", "timeout_s", 0),
        ("incident.update", "priority", 0),
        ("incident.update", "priority", 6),
        ("incident.update", "priority", 2.5),
        ("incident.update", "priority", math.nan),
    ],
)
def test_out_of_range_numbers_are_bad_request(mtype: str, field: str, value: float) -> None:
    assert_error(with_(mtype, **{field: value}))


def test_huge_integers_are_bad_request_not_overflow() -> None:
    # float(10**400) raises OverflowError; the parser must still answer bad_request.
    assert_error(with_("alert.submit", lat=10**400))
    assert_error(with_("unit.position", at=-(10**400)))


# -- sizes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mtype", "field"),
    [
        ("alert.submit", "text"),
        ("notice", "text"),
        ("incident.update", "note"),
        ("incident.status", "note"),
        ("assignment.decline", "reason"),
    ],
)
def test_text_over_1000_characters_is_too_large(mtype: str, field: str) -> None:
    assert_error(with_(mtype, **{field: LONG_TEXT}), ErrorCode.TOO_LARGE)


def test_oversized_token_is_too_large() -> None:
    assert_error(with_("hello", token="t" * 4097), ErrorCode.TOO_LARGE)


@pytest.mark.parametrize(
    ("mtype", "field"),
    [(t, f) for t, fields in KINDS.items() for f, kind in fields.items() if kind == "id"],
)
def test_ids_over_64_characters_are_bad_request(mtype: str, field: str) -> None:
    assert_error(with_(mtype, **{field: "x" * 65}))


@pytest.mark.parametrize("mtype", ["citizen.follow", "cover", "notice"])
def test_more_than_2000_cells_is_too_large(mtype: str) -> None:
    assert_error(with_(mtype, cells=[CELL] * 2001), ErrorCode.TOO_LARGE)


def test_merge_limits() -> None:
    assert_error(with_("incident.merge", **{"from": [f"in-{i}" for i in range(51)]}))
    assert_error(with_("incident.merge", **{"from": ["x" * 65]}))


def test_resume_limits() -> None:
    assert_error(with_("hello", resume={f"s{i}": "1-0" for i in range(9)}))
    assert_error(with_("hello", resume={"events": "1" * 65}))


def test_notice_needs_a_cell() -> None:
    assert_error(with_("notice", cells=[]))


# -- H3 cells -----------------------------------------------------------------------

EDGE = str(h3.origin_to_directed_edges(CELL)[0])
VERTEX = str(h3.cell_to_vertex(CELL, 0))


@pytest.mark.parametrize(
    "cell",
    [
        "",
        "not-a-cell",
        "0",
        "-1",  # h3 itself raises OverflowError on negatives
        "ffffffffffffffff",
        CELL[:-1],
        CELL + "f",
        CELL.upper(),  # valid to h3, but not the canonical form the hub indexes
        " " + CELL,
        "0" + CELL,
        "+" + CELL,
        CELL[:3] + "_" + CELL[3:],
        EDGE,
        VERTEX,
    ],
)
@pytest.mark.parametrize("mtype", ["citizen.follow", "cover", "notice"])
def test_invalid_h3_cells_are_bad_request(mtype: str, cell: str) -> None:
    assert_error(with_(mtype, cells=[CELL, cell]))


def test_cells_of_every_resolution_are_valid() -> None:
    cells = [str(h3.cell_to_parent(CELL, r)) for r in range(10)]
    cells.append(str(h3.cell_to_center_child(CELL, 15)))
    msg = parse_message(with_("cover", cells=cells))
    assert isinstance(msg, Cover) and msg.cells == tuple(cells)


# -- refs ---------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["", "r" * 65, 5, True, None, ["r"], {"r": 1}, 1.5])
def test_bad_ref_is_bad_request_without_a_ref(ref: Any) -> None:
    for mtype in VALID:
        err = fails(with_(mtype, ref=ref))
        assert err.code is ErrorCode.BAD_REQUEST, mtype
        assert err.ref is None
        assert "ref" in err.message


def test_errors_after_a_valid_ref_carry_it() -> None:
    err = fails({"type": "alert.cancel", "ref": "r" * 64})
    assert err.ref == "r" * 64
    assert err.to_message() == {
        "type": "error",
        "code": "bad_request",
        "message": err.message,
        "ref": "r" * 64,
    }


# -- type and frame shape -----------------------------------------------------------


@pytest.mark.parametrize(
    "mtype", ["alert.delete", "", "HELLO", "Hello", "alert", "welcome", "error", "x" * 500]
)
def test_unknown_type_is_unknown_type(mtype: str) -> None:
    err = fails({"type": mtype, "ref": "r1"})
    assert err.code is ErrorCode.UNKNOWN_TYPE
    assert err.ref == "r1"
    assert len(err.message) < 80  # the type is echoed truncated


@pytest.mark.parametrize("role", [None, *ROLES])
def test_unknown_type_wins_over_role(role: str | None) -> None:
    assert fails({"type": "alert.delete"}, role).code is ErrorCode.UNKNOWN_TYPE


@pytest.mark.parametrize("mtype", [None, 5, True, ["hello"], {"t": "hello"}])
def test_missing_or_non_string_type_is_bad_request(mtype: Any) -> None:
    raw = {"ref": "r1"} if mtype is None else {"type": mtype, "ref": "r1"}
    assert_error(raw)


@pytest.mark.parametrize(
    "raw", [[], [VALID["hello"]], "hello", b"hello", 5, 1.5, None, True, ("type", "hello")]
)
def test_non_map_frame_is_bad_request(raw: Any) -> None:
    err = fails(raw)
    assert err.code is ErrorCode.BAD_REQUEST
    assert err.ref is None


# -- roles --------------------------------------------------------------------------

FORBIDDEN_CASES = [(t, r) for t in sorted(SENDERS) for r in ROLES if r not in SENDERS[t]]


def test_roles_are_the_protocol_roles() -> None:
    assert set(ROLES) == {"citizen", "unit", "console"}


@pytest.mark.parametrize("mtype", sorted(SENDERS))
def test_allowed_roles_match_the_protocol(mtype: str) -> None:
    assert allowed_roles(mtype) == SENDERS[mtype]


def test_allowed_roles_of_unknown_type_is_empty() -> None:
    assert allowed_roles("alert.delete") == frozenset()


@pytest.mark.parametrize(("mtype", "role"), FORBIDDEN_CASES)
def test_wrong_role_is_forbidden(mtype: str, role: str) -> None:
    err = fails(VALID[mtype], role)
    assert err.code is ErrorCode.FORBIDDEN
    assert err.ref == VALID[mtype]["ref"]


@pytest.mark.parametrize(("mtype", "role"), FORBIDDEN_CASES)
def test_wrong_role_is_forbidden_even_when_malformed(mtype: str, role: str) -> None:
    # The sender learns it may not do this before learning how to do it.
    err = fails({"type": mtype, "ref": "r1"}, role)
    assert err.code is ErrorCode.FORBIDDEN
    assert err.ref == "r1"


@pytest.mark.parametrize("role", ["admin", "", "Console"])
def test_unknown_role_is_forbidden_everything(role: str) -> None:
    for mtype in VALID:
        assert fails(VALID[mtype], role).code is ErrorCode.FORBIDDEN


# -- property: nothing but ProtocolError escapes -------------------------------------

FIELDS = sorted({f for fields in KINDS.values() for f in fields} | {"ref"})
CELLISH = st.one_of(
    st.sampled_from([CELL, CELL7, OTHER, CELL.upper(), "-1", ""]),
    st.text(alphabet="0123456789abcdefABCDEF-+_ x", max_size=17),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**64, -(2**63)]),
    st.floats(),
    st.text(max_size=70),
    CELLISH,
    st.sampled_from(sorted(VALID)),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
# Values that broke, or could break, a field reader: weighted up in mutated messages.
NASTY = st.sampled_from(
    [10**400, -(10**400), 2**64, math.nan, math.inf, -0.0, True, "", "x" * 1001, [], {}]
)
FIELD_VALUES = st.one_of(
    NASTY,
    st.lists(st.one_of(NASTY, CELLISH), min_size=1, max_size=3),
    SCALARS,
    st.lists(CELLISH, min_size=1, max_size=3),
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
)


def mutated(
    mtype: str, changes: dict[str, Any], dropped: set[str], as_sender: bool
) -> tuple[dict[str, Any], str | None]:
    """A valid message with a few fields replaced, added or dropped, and a sender that
    passes the role check: reaches every field reader, where random maps stop at `type`."""
    raw = {k: v for k, v in {**VALID[mtype], **changes}.items() if k not in dropped}
    return raw, (sorted(SENDERS[mtype])[0] if as_sender else None)


MUTATED = st.builds(
    mutated,
    st.sampled_from(sorted(VALID)),
    st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=3),
    st.sets(st.sampled_from(FIELDS), max_size=1),
    st.booleans(),
)
ROLE = st.sampled_from([None, *ROLES, "admin"])


def parse_or_protocol_error(raw: Any, role: str | None) -> None:
    try:
        parse_message(raw, role)
    except ProtocolError as err:
        assert isinstance(err.code, ErrorCode)
        assert err.ref is None or (isinstance(err.ref, str) and 0 < len(err.ref) <= 64)


@settings(max_examples=150, deadline=None, database=None)
@given(raw=JSONISH, role=ROLE)
def test_arbitrary_values_raise_only_protocol_error(raw: Any, role: str | None) -> None:
    parse_or_protocol_error(raw, role)


@settings(max_examples=400, deadline=None, database=None)
@given(case=MUTATED)
def test_mutated_messages_raise_only_protocol_error(
    case: tuple[dict[str, Any], str | None],
) -> None:
    parse_or_protocol_error(*case)


def test_a_sector_has_at_most_500_cells() -> None:
    from hub.core.messages import MAX_SECTOR_CELLS

    ring = sorted(h3.grid_disk(CELL, 13))
    assert len(ring) > MAX_SECTOR_CELLS
    assert_error(with_("cover", cells=ring[: MAX_SECTOR_CELLS + 1]), ErrorCode.TOO_LARGE)
    parse_message(with_("cover", cells=ring[:MAX_SECTOR_CELLS]), "unit")


# -- the conversation and feedback (added) ------------------------------------------------


def test_conversation_messages_parse_and_check_their_fields() -> None:
    from hub.core.messages import AlertFeedback, MessageReply, MessageSend, parse_message

    send = {"type": "message.send", "ref": "q", "incident": "in1", "text": "Toujours ?"}
    assert parse_message(send, "console") == MessageSend("in1", "Toujours ?", None, "q")
    reply = {"type": "message.reply", "ref": "r", "alert": "al1", "text": "Oui"}
    assert parse_message(reply, "citizen") == MessageReply("al1", "Oui", "r")
    rate = {"type": "alert.feedback", "alert": "al1", "score": 5}
    assert parse_message(rate, "citizen") == AlertFeedback("al1", 5, "", None)
    for raw, role, code in (
        ({**send, "text": "x" * 1001}, "console", "too_large"),
        ({**send, "text": " \n"}, "console", "bad_request"),
        ({k: v for k, v in send.items() if k != "ref"}, "console", "bad_request"),
        (reply, "console", "forbidden"),
        (send, "citizen", "forbidden"),
        ({**rate, "score": 0}, "citizen", "bad_request"),
        ({**rate, "score": True}, "citizen", "bad_request"),
        ({**rate, "comment": "x" * 1001}, "citizen", "too_large"),
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_message(raw, role)
        assert caught.value.code.value == code, raw


def test_neighbour_messages_parse_and_check_their_fields() -> None:
    from hub.core.messages import IncidentPublish, NeighbourCorroborate, parse_message

    cell = "873963a62ffffff"
    assert parse_message({"type": "neighbours.follow", "cells": [cell]}, "citizen").cells == (cell,)
    me_too = {"type": "neighbour.corroborate", "ref": "m", "incident": "in1"}
    assert parse_message(me_too, "citizen") == NeighbourCorroborate("in1", "m")
    publish = {"type": "incident.publish", "incident": "in1", "published": False}
    assert parse_message(publish, "console") == IncidentPublish("in1", False, None)
    for raw, role, code in (
        ({"type": "neighbour.corroborate", "incident": "in1"}, "citizen", "bad_request"),
        ({**publish, "published": "no"}, "console", "bad_request"),
        (publish, "citizen", "forbidden"),
        ({"type": "neighbours.follow", "cells": ["nope"]}, "citizen", "bad_request"),
        ({"type": "neighbours.follow", "cells": [cell]}, "unit", "forbidden"),
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_message(raw, role)
        assert caught.value.code.value == code, raw
