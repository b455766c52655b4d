"""The routing rule, written once: who an entry is for (no node, no sessions)."""

from __future__ import annotations

import h3
import pytest

from hub.core.geo import cell_of
from hub.core.routing import Audience, Reader, audience, includes

CELL = cell_of(43.1839, 3.0042, 9)
SECTOR = str(h3.cell_to_parent(CELL, 7))
ELSEWHERE = cell_of(43.16, 3.16, 9)


def reader(
    role: str,
    sub: str = "x",
    covered: frozenset[str] = frozenset(),
    follow_cells: frozenset[str] = frozenset(),
) -> Reader:
    return Reader(role, sub, lambda cell: cell in covered, follow_cells)


CONSOLE = reader("console", "c1")
UNIT_HERE = reader("unit", "u1", frozenset({CELL}))
UNIT_AWAY = reader("unit", "u2", frozenset({ELSEWHERE}))
CITIZEN = reader("citizen", "z1", follow_cells=frozenset({SECTOR}))


def test_a_poke_is_for_its_identity_only() -> None:
    aud = audience("alert", "citizen:z1", CELL, {})
    assert aud == Audience(identity=("citizen", "z1"))
    assert includes(aud, CITIZEN)
    assert not includes(aud, reader("citizen", "z2"))
    assert not includes(aud, CONSOLE)  # not even a console sees another's inbox


def test_an_incident_is_for_consoles_and_the_units_covering_its_cell() -> None:
    aud = audience("incident", None, CELL, {})
    assert aud == Audience(consoles=True, cell=CELL)
    assert includes(aud, CONSOLE) and includes(aud, UNIT_HERE)
    assert not includes(aud, UNIT_AWAY) and not includes(aud, CITIZEN)


def test_an_incident_without_a_cell_is_for_consoles_only() -> None:
    aud = audience("incident", None, None, {})
    assert includes(aud, CONSOLE) and not includes(aud, UNIT_HERE)


def test_a_notice_is_for_the_citizens_following_an_overlapping_cell() -> None:
    aud = audience("notice", None, None, {"cells": [CELL]})
    assert aud == Audience(notice_cells=(CELL,))
    assert includes(aud, CITIZEN)  # follows the res-7 sector that holds the cell
    assert not includes(aud, reader("citizen", "z2", follow_cells=frozenset({ELSEWHERE})))
    assert not includes(aud, CONSOLE) and not includes(aud, UNIT_HERE)


def test_a_published_incident_is_for_the_neighbours_of_its_cell() -> None:
    aud = audience("neighbour", None, SECTOR, {})
    assert aud == Audience(neighbour_cells=(SECTOR,))
    near = Reader("citizen", "n1", lambda cell: False, frozenset(), frozenset({SECTOR}))
    far = Reader("citizen", "n2", lambda cell: False, frozenset(), frozenset({ELSEWHERE}))
    assert includes(aud, near) and not includes(aud, far)
    assert not includes(aud, CITIZEN)  # following notices is not opting in to the feed
    assert not includes(aud, CONSOLE) and not includes(aud, UNIT_HERE)


@pytest.mark.parametrize("kind", ["unit", "queue", "merge", "assignment"])
def test_everything_else_shared_is_for_consoles(kind: str) -> None:
    aud = audience(kind, None, CELL, {})
    assert includes(aud, CONSOLE)
    assert not includes(aud, UNIT_HERE) and not includes(aud, CITIZEN)
