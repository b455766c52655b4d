"""What a client does when a session ends: the close-code table and the backoff.

Rule: the meaning of every close code for a client lives in `_ACTIONS`
(protocol.md, "Close codes"); a code not in it is treated as a dropped
connection, because retrying with backoff is the safe default for something
the hub did not promise. Pure: no I/O, no clock; randomness is injectable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

__all__ = ["ABNORMAL_CLOSURE", "Action", "Backoff", "action_for_close"]

ABNORMAL_CLOSURE: Final = 1006  # RFC 6455 §7.1.5: closed without a close frame (dropped)


class Action(Enum):
    """What to do after a session ended with some close code."""

    RECONNECT = "reconnect"  # back off, reconnect, resume from our offsets
    REAUTHENTICATE = "reauthenticate"  # get a new token first, then as RECONNECT
    STOP = "stop"  # a client bug: reconnecting would fail the same way


_ACTIONS: Final[dict[int, Action]] = {
    1001: Action.RECONNECT,  # hub process going away
    1002: Action.STOP,  # we offered no v1 subprotocol
    1006: Action.RECONNECT,  # dropped without a close frame
    1009: Action.STOP,  # we sent a frame over 64 KiB
    1011: Action.RECONNECT,  # server error: another process may serve us
    1012: Action.RECONNECT,  # hub restarting
    1013: Action.RECONNECT,  # try again later (the hub's Redis is away)
    4400: Action.STOP,  # our first frame was not a valid hello
    4401: Action.REAUTHENTICATE,  # token missing, bad, expired or for another tenant
    4408: Action.RECONNECT,  # we read too slowly: the hub's outbox for us overflowed
    4429: Action.RECONNECT,  # too many connections or messages: the backoff slows us
}


def action_for_close(code: int | None) -> Action:
    """The action for a close code; None (no session was opened) means reconnect."""
    if code is None:
        return Action.RECONNECT
    return _ACTIONS.get(code, Action.RECONNECT)


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
