"""Records read back from Redis: usable ones typed, unusable ones named and skipped."""

from __future__ import annotations

import h3
import orjson
import pytest

from hub.core.records import (
    BadRecord,
    WaitingIncident,
    entry_problem,
    parse_int,
    unit_change_problem,
    unit_info,
    waiting_incident,
)

CELL = h3.latlng_to_cell(43.1839, 3.0042, 9)


@pytest.mark.parametrize(
    ("kind", "body", "problem"),
    [
        ("incident", {"type": "incident", "incident": {"id": "in1"}}, None),
        ("queue", {"type": "queue", "incidents": []}, None),
        ("", {"type": "incident"}, "no kind (field k)"),
        ("incident", ["not", "an", "object"], "body (field d) is not a JSON object"),
        ("incident", {"incident": {"id": "in1"}}, "body has no type"),
        ("incident", {"type": "incident"}, "incident entry without its incident"),
        (
            "incident",
            {"type": "incident", "incident": {"id": 7}},
            "incident entry without its incident",
        ),
        ("unit", {"type": "unit", "unit": "u1"}, "unit entry without its unit"),
        ("unit", {"type": "unit", "unit": {"id": "u1", "cell": "x"}}, "cell is not an H3 cell"),
    ],
)
def test_entry_problem(kind: str, body: object, problem: str | None) -> None:
    assert entry_problem(kind, body) == problem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"12", 12), ("12.0", 12), (b"-3", -3), (None, 7), (b"", 7), (b"abc", None),
     (b"nan", None), (b"inf", None)],
)  # fmt: skip
def test_parse_int(raw: bytes | str | None, expected: int | None) -> None:
    assert parse_int(raw, 7) == expected


def test_a_waiting_incident_is_typed() -> None:
    row = {"priority": b"2", "reporters": None, "opened_at": b"1000", "status": b"open"}
    assert waiting_incident("in1", "k", row) == WaitingIncident("in1", 2, 1, 1000, "open")


def test_a_waiting_incident_with_garbage_names_its_fields() -> None:
    row = {"priority": b"high", "reporters": b"1", "opened_at": b"yesterday", "status": b"open"}
    assert waiting_incident("in1", "vg:{t}:inc:in1", row) == BadRecord(
        "incident", "vg:{t}:inc:in1", "not a number: opened_at, priority"
    )


def test_an_incident_gone_from_under_the_queue_is_not_bad() -> None:
    assert waiting_incident("in1", "k", {"priority": None}) is None


def test_a_unit_of_the_board() -> None:
    row = {"status": b"available", "sessions": b"1", "cell": CELL.encode(),
           "sector": orjson.dumps([CELL])}  # fmt: skip
    unit = unit_info("u1", "k", row)
    assert not isinstance(unit, BadRecord)
    assert (unit.online, unit.cell, unit.sector) == (True, CELL, (CELL,))
    empty = unit_info("u2", "k", {"status": None, "sessions": None, "cell": None, "sector": b"{}"})
    assert not isinstance(empty, BadRecord) and empty.sector == () and empty.status == "off_duty"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("sector", b"[not json", "sector, cell or status is not valid text"),
        ("sector", b'["nowhere"]', "sector is not a list of H3 cells"),
        ("sector", b"42", "sector is not a list of H3 cells"),
        ("cell", b"nowhere", "cell is not an H3 cell"),
        ("cell", b"\xff\xfe", "sector, cell or status is not valid text"),
        ("sessions", b"many", "sessions is not a number"),
    ],
)
def test_a_unit_with_garbage_is_bad(field: str, value: bytes, reason: str) -> None:
    row: dict[str, bytes | None] = {"status": b"available", "sessions": b"0", "cell": None,
                                    "sector": None}  # fmt: skip
    row[field] = value
    assert unit_info("u1", "k", row) == BadRecord("unit", "k", reason)


@pytest.mark.parametrize(
    ("unit", "problem"),
    [
        ({"id": "u1", "cell": CELL, "sector": [CELL], "status": "available", "online": True}, None),
        ({"id": "u1", "sector": {}}, None),
        ({"id": "u1", "cell": "nowhere"}, "cell is not an H3 cell"),
        ({"id": "u1", "sector": ["x"]}, "sector is not a list of H3 cells"),
        ({"id": "u1", "status": 3}, "status is not text"),
        ({"id": "u1", "online": "yes"}, "online is not true or false"),
    ],
)
def test_unit_change_problem(unit: dict[str, object], problem: str | None) -> None:
    assert unit_change_problem(unit) == problem
