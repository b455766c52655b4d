"""Who a tenant-stream entry is for: the routing rule, written once.

Rule: this module is the only place that says which sessions an entry reaches.
`audience` reads an entry's kind, addressee and cell and names its audience;
the live path resolves an `Audience` through the node's indexes (consoles,
cell → units, identity → sessions, citizens following cells), and the replay
path asks `includes` about one session. Both answer from the same `Audience`,
so the live and the replayed view of a stream cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.coverage import cells_overlap

__all__ = ["Audience", "Reader", "audience", "includes"]


@dataclass(frozen=True, slots=True)
class Audience:
    """The sessions an entry is for, described (not resolved).

    Exactly one of the shapes below: a personal entry (`identity`), or a shared
    one for every console (`consoles`) plus the units covering `cell`, or a
    notice for the citizens following one of `notice_cells`, or a published
    incident for the residents who opted in to the neighbours' feed of its cell.
    """

    identity: tuple[str, str] | None = None  # (role, sub): that identity's sessions only
    consoles: bool = False  # every console of the tenant
    cell: str | None = None  # the units whose coverage holds this cell
    notice_cells: tuple[str, ...] | None = None  # citizens following one of these cells
    neighbour_cells: tuple[str, ...] | None = None  # residents of the neighbours' feed there


@dataclass(frozen=True, slots=True)
class Reader:
    """What routing needs to know of one session."""

    role: str
    sub: str
    covers: Callable[[str], bool]  # True when the session's unit coverage holds the cell
    follow_cells: frozenset[str] = frozenset()
    neighbour_cells: frozenset[str] = frozenset()  # the neighbours' feed it opted in to


CONSOLES_ONLY = Audience(consoles=True)


def audience(kind: str, to: str | None, cell: str | None, body: Mapping[str, Any]) -> Audience:
    """The audience of one entry (protocol.md, "Who receives what").

    A poke (`to` set, "role:sub") goes to that identity only; an incident to the
    consoles and the units covering its cell; a notice to the citizens
    following one of its cells; a `neighbour` entry (an incident's public view)
    to the residents whose neighbours' feed covers its cell; anything else
    (unit changes, queue order, merges) to the consoles.
    """
    if to is not None:
        role, _, sub = to.partition(":")
        return Audience(identity=(role, sub))
    if kind == "incident":
        return Audience(consoles=True, cell=cell)
    if kind == "notice":
        cells: Iterable[str] = body.get("cells", ())
        return Audience(notice_cells=tuple(cells))
    if kind == "neighbour":
        return Audience(neighbour_cells=() if cell is None else (cell,))
    return CONSOLES_ONLY


def includes(aud: Audience, reader: Reader) -> bool:
    """True when `reader` belongs to `aud` (the rule the indexes resolve in bulk)."""
    if aud.identity is not None:
        return aud.identity == (reader.role, reader.sub)
    if aud.consoles and reader.role == "console":
        return True
    if aud.cell is not None and reader.role == "unit" and reader.covers(aud.cell):
        return True
    if aud.notice_cells is not None and reader.role == "citizen":
        return cells_overlap(reader.follow_cells, aud.notice_cells)
    if aud.neighbour_cells is not None:
        return cells_overlap(reader.neighbour_cells, aud.neighbour_cells)
    return False
