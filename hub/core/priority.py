"""Priority and queue score of an incident: pure functions, documented rules.

Rules (docs/priority.md repeats them for operators):

1. An incident starts at its category's base priority (1 most urgent .. 5).
2. Corroboration: distinct reporters raise it one step at 3 reporters and one
   more at 6 (never above 1). One person reporting ten times counts once.
3. An operator may set the priority; corroboration no longer moves it then.
4. The score orders the queue (higher first):
   ``score = 20 * (6 - priority) + 1.5 * min(reporters - 1, 10) + aging``
   where aging adds ``AGING_PER_MIN[priority]`` points per minute waited while
   the incident is not yet dispatched, capped at ``AGING_CAP`` points. With
   these numbers a priority-3 incident that waited 40 minutes ranks above a
   fresh priority-2 one, so a stream of new reports cannot starve old ones.

The Lua script that groups alerts atomically cannot call Python, so it is
handed a ladder (`corroboration_ladder`) computed here: the logic stays here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

__all__ = [
    "AGING_CAP",
    "AGING_PER_MIN",
    "LADDER_LEN",
    "aging_bonus",
    "base_score",
    "corroborated_priority",
    "corroboration_ladder",
    "score",
]

CORROBORATION_STEPS: Final = (3, 6)  # distinct reporters at which priority rises one step
AGING_PER_MIN: Final = {1: 1.0, 2: 0.75, 3: 0.6, 4: 0.4, 5: 0.3}
AGING_CAP: Final = 30.0
LADDER_LEN: Final = 12  # reporters beyond this count as this many


def corroborated_priority(base: int, reporters: int) -> int:
    """The priority after corroboration by `reporters` distinct people."""
    raised = sum(1 for step in CORROBORATION_STEPS if reporters >= step)
    return max(1, base - raised)


def base_score(priority: int, reporters: int) -> float:
    """The score before aging."""
    return 20.0 * (6 - priority) + 1.5 * min(max(reporters, 1) - 1, 10)


def aging_bonus(priority: int, waited_s: float) -> float:
    """Points added for time waited in the queue (capped)."""
    return min(AGING_CAP, AGING_PER_MIN[priority] * max(waited_s, 0.0) / 60.0)


def score(priority: int, reporters: int, waited_s: float = 0.0) -> float:
    """The queue score of an incident: higher is served first."""
    return round(base_score(priority, reporters) + aging_bonus(priority, waited_s), 2)


def corroboration_ladder(base: int) -> list[tuple[int, float]]:
    """(priority, base score) for 1..LADDER_LEN distinct reporters, for the Lua script."""
    return list(_ladder(base))


@lru_cache(maxsize=16)  # one per base priority: every alert asks for its category's
def _ladder(base: int) -> tuple[tuple[int, float], ...]:
    return tuple(
        (p, base_score(p, n))
        for n in range(1, LADDER_LEN + 1)
        for p in (corroborated_priority(base, n),)
    )
