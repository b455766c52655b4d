"""What a client does when a session ends: the close-code rule and the backoff.

Rule: what a close code means for a client follows from its range
(`reconnects`, protocol.md "Close codes"), so the SDK needs no table and
copes with codes added later. Pure: no I/O, no clock; randomness is injectable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

__all__ = [
    "ABNORMAL_CLOSURE",
    "UNAUTHORIZED",
    "Action",
    "Backoff",
    "action_for_close",
    "reconnects",
]

ABNORMAL_CLOSURE: Final = 1006  # RFC 6455 §7.1.5: closed without a close frame (dropped)
UNAUTHORIZED: Final = 4401  # the token was refused: the one final code a new token cures


class Action(Enum):
    """What to do after a session ended with some close code."""

    RECONNECT = "reconnect"  # back off, reconnect, resume from our offsets
    REAUTHENTICATE = "reauthenticate"  # get a new token first, then as RECONNECT
    STOP = "stop"  # reconnecting would fail the same way


def reconnects(code: int) -> bool:
    """Whether to back off, reconnect and resume after close `code`.

    The rule of docs/protocol.md ("Close codes"), copied from the hub's
    `hub.core.errors.reconnects` because the SDK stands alone (a unit test checks
    that both agree on every code): reconnect on every code except 1000 (the
    normal closure we asked for), 1002-1003 and 1007-1010 (we broke the
    protocol) and 4400-4407 (our request or credentials were refused).
    """
    return not (
        code == 1000 or 1002 <= code <= 1003 or 1007 <= code <= 1010 or 4400 <= code <= 4407
    )


def action_for_close(code: int | None) -> Action:
    """The action for a close code; None (no session was opened) means reconnect."""
    if code is None or reconnects(code):
        return Action.RECONNECT
    return Action.REAUTHENTICATE if code == UNAUTHORIZED else Action.STOP


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
    Backoff And Jitter"): attempt n waits a uniform time in [0, min(cap, base·2ⁿ)).

    Full jitter spreads the reconnections of many clients dropped at once (a hub
    restart) over the whole window instead of synchronising them in waves.

    Attributes:
        base_s: The ceiling of the first attempt, in seconds.
        cap_s: The largest ceiling, in seconds.
        stable_after_s: A session that lasted this long resets the attempt count;
            a shorter one (a hub that accepts then closes) keeps growing it.
        rand: The source of jitter, uniform in [0, 1) (tests pin it).
    """

    base_s: float = 0.2
    cap_s: float = 10.0
    stable_after_s: float = 2.0
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")

    def ceiling(self, attempt: int) -> float:
        """The largest delay of attempt `attempt` (0-based)."""
        # 2**64 overflows a float multiply long after the cap is reached: clamp first.
        return min(self.cap_s, self.base_s * 2.0 ** min(max(attempt, 0), 64))

    def delay(self, attempt: int) -> float:
        """The delay before attempt `attempt`: uniform in [0, ceiling(attempt))."""
        return self.ceiling(attempt) * self.rand()
