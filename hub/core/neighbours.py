"""Neighbours who watch over each other: what a published incident shows, and to whom.

Rules (docs/protocol.md, "Neighbours"):

1. A resident opts in for cells of the town (`neighbours.follow`); the choice is kept
   (in Redis) until changed, so it holds from the next `hello`, on any process.
2. They get the incidents the control room published (`incident.publish`) or whose
   category the town publishes at once (`neighbours_publish`), in those cells, as
   the public view only: id, category, coarse cell (the tenant's
   `public_resolution`), times, status, number of reporters. Never a reporter, a
   text or a point.
3. A neighbour's "me too" (`neighbour.corroborate`) is a report of that incident
   by a distinct person: it raises the priority like any corroboration, counts
   against the citizen's alert limit, and makes them a reporter (alert statuses).
4. Unpublishing sends the view once more with `published: false`; the feed is the
   tenant stream (durable, resumable by `resume.events`), filtered per resident.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NEIGHBOURS_SNAPSHOT_MAX", "NEIGHBOUR_CELLS_MAX"]

NEIGHBOUR_CELLS_MAX: Final = 50  # cells a resident may follow (a neighbourhood, not a town)
NEIGHBOURS_SNAPSHOT_MAX: Final = 200  # published incidents listed in a snapshot
