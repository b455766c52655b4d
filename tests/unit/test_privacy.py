"""The pure rules of privacy by role: coarse cells, a resident's id, an erasure's trace."""

from __future__ import annotations

import h3
import pytest

from hub.core.privacy import (
    ErasureTrace,
    anonymous_place,
    check_citizen_id,
    coarse_cell,
    coarse_cells,
    notice_for_residents,
)
from hub.store.keys import TenantKeys, glob_escape

FINE = h3.latlng_to_cell(43.1839, 3.0042, 9)
NEIGHBOUR = h3.latlng_to_cell(43.1843, 3.0047, 9)
COARSE = h3.cell_to_parent(FINE, 7)


def test_a_fine_cell_becomes_its_coarse_parent_and_a_coarse_one_stays() -> None:
    assert coarse_cell(FINE, 7) == COARSE
    assert coarse_cell(h3.cell_to_parent(FINE, 5), 7) == h3.cell_to_parent(FINE, 5)
    assert coarse_cells([FINE, NEIGHBOUR, FINE], 7) == [COARSE]


def test_a_notice_for_residents_keeps_its_text_and_coarsens_its_cells() -> None:
    body = {"type": "notice", "notice": "nt1", "cells": [FINE, NEIGHBOUR], "text": "x"}
    assert notice_for_residents(body, 7) == {**body, "cells": [COARSE]}
    assert body["cells"] == [FINE, NEIGHBOUR]  # the stored notice is not changed
    assert notice_for_residents({"type": "notice"}, 7) == {"type": "notice"}


def test_an_anonymous_place_tells_no_more_than_the_coarse_cell() -> None:
    place = anonymous_place(FINE, 7, 9)
    assert place.cell == h3.cell_to_center_child(COARSE, 9)
    assert (place.lat, place.lon) == pytest.approx(h3.cell_to_latlng(COARSE), abs=1e-6)
    assert anonymous_place(NEIGHBOUR, 7, 9) == place  # two reports in one coarse cell: one place
    assert anonymous_place(FINE, 9, 9).cell == FINE  # coarse == hub resolution


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "non-empty"), (None, "non-empty"), (5, "non-empty"), ("x" * 65, "longer than 64"),
     ("a\nb", "control"), ("a\x00", "control")],
)  # fmt: skip
def test_a_bad_citizen_id_is_refused_with_its_reason(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_citizen_id(value)


def test_a_good_citizen_id_passes() -> None:
    assert check_citizen_id("alice@example.org") == "alice@example.org"
    assert check_citizen_id("open311:fixmystreet:d" + "0" * 24).startswith("open311:")


def trace() -> ErasureTrace:
    alerts = [
        {"incident": "in1", "text": "mon voisin", "lat": "43.1839", "lon": "3.0042"},
        {"incident": "in2", "text": "", "lat": "43.2", "lon": "3.1"},
    ]
    return ErasureTrace.of("alice", alerts)


def test_the_trace_finds_entries_addressed_to_the_resident() -> None:
    assert trace().reveals("citizen:alice", {"type": "alert.status"})
    assert not trace().reveals("citizen:alicia", {"type": "alert.status"})
    assert not trace().reveals("unit:alice", {"type": "assignment.state"})


def test_the_trace_finds_incident_views_with_the_residents_text_or_point() -> None:
    t = trace()
    view = {"id": "in1", "text": "other", "lat": 43.18390000000001, "lon": 3.0042}
    assert t.reveals(None, {"type": "incident", "incident": view})  # cjson's 14 digits
    assert t.reveals(
        "unit:u1", {"type": "assignment", "incident": {**view, "lat": 1.0, "text": "mon voisin"}}
    )
    assert not t.reveals(None, {"type": "incident", "incident": {**view, "lat": 43.19}})
    other = {"id": "in9", "text": "mon voisin", "lat": 43.1839, "lon": 3.0042}
    assert not t.reveals(None, {"type": "incident", "incident": other})  # not their incident
    assert not t.reveals(None, {"type": "assignment.state", "incident": "in1"})
    assert "" not in t.texts  # an empty text matches nothing


def test_scan_patterns_take_ids_literally() -> None:
    assert glob_escape("a*b?[c]\\") == "a\\*b\\?\\[c\\]\\\\"
    keys = TenantKeys("t")
    assert keys.match_idempotency("x*") == "vg:{t}:idem:2:x\\*:*"
    assert keys.match_replies("bob") == "vg:{t}:reply:*:3:bob:*"
