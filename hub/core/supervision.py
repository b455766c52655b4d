"""The rule of every background loop: what it retries, how long it waits, when it gives up.

Rule: a loop never dies silently and never spins. A bad record is not a loop
failure at all: the loop skips it (see hub.core.records) and goes on. What
remains is one table, `FAULT_RULES`:

- an *outage* (Redis unreachable, restarting, failing over) is waited out for
  as long as it lasts, with a bounded exponential backoff: every process
  shares it, and exiting would only turn it into a restart storm;
- any other *error* is a bug or corrupt state the loop cannot skip: it is
  retried with a backoff, and `fatal_after` of them in a row mean the loop
  cannot go on. The process then exits with `EXIT_LOOP_FAILED`, so that its
  clients resume on another process and its supervisor restarts it, rather
  than serving sessions it no longer feeds.

Pure: the server layer classifies exceptions into faults and does the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "EXIT_LOOP_FAILED",
    "FAULT_RULES",
    "Backoff",
    "Fault",
    "FaultRule",
    "LoopHealth",
    "Verdict",
]

# sysexits.h EX_SOFTWARE. Not uvicorn's 3 (start-up failure), which makes its
# worker supervisor stop instead of restarting the worker.
EXIT_LOOP_FAILED = 70


class Fault(StrEnum):
    """What went wrong in one turn of a loop."""

    OUTAGE = "outage"  # Redis unreachable or not serving yet: wait it out
    ERROR = "error"  # anything else: a bug, or corrupt state no record skip can avoid


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential delays: `base_s`, doubled per failure in a row, at most `cap_s`."""

    base_s: float
    cap_s: float

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1 for the first)."""
        return min(self.cap_s, self.base_s * float(2 ** max(0, failures - 1)))


@dataclass(frozen=True, slots=True)
class FaultRule:
    """How a loop treats one kind of fault: its backoff, and how many in a row are fatal."""

    backoff: Backoff
    fatal_after: int | None  # None: never fatal
    keep_pace: bool = False  # never wait longer than the loop's own period


# 6 errors in a row take 0.2 + 0.4 + 0.8 + 1.6 + 3.2 = 6.2 s of retries: longer
# than a glitch, short enough that a broken process leaves before clients notice.
# An outage keeps a fast loop's pace (deadlines every 0.25 s): its retries are what
# finds Redis back and renews the pool's dead connections, before a command does.
FAULT_RULES: dict[Fault, FaultRule] = {
    Fault.OUTAGE: FaultRule(Backoff(0.1, 2.0), fatal_after=None, keep_pace=True),
    Fault.ERROR: FaultRule(Backoff(0.2, 5.0), fatal_after=6),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the loop does after a fault: wait `delay_s` and retry, or give up."""

    delay_s: float
    fatal: bool
    in_a_row: int  # faults of this kind in a row, this one included


@dataclass(slots=True)
class LoopHealth:
    """Faults in a row of one loop; a turn that succeeds starts the count again."""

    rules: dict[Fault, FaultRule]
    in_a_row: int = 0
    last: Fault | None = None

    @classmethod
    def default(cls) -> LoopHealth:
        """A loop under the hub's `FAULT_RULES`."""
        return cls(FAULT_RULES)

    def ok(self) -> None:
        """A turn of the loop succeeded."""
        self.in_a_row, self.last = 0, None

    def failed(self, fault: Fault, period_s: float | None = None) -> Verdict:
        """A turn failed with `fault`: how long to wait, or whether the loop must stop.

        `period_s` is the loop's own period (None for a loop that blocks on
        reads). A change of kind starts the count again: an outage followed by
        an error is one error in a row, not two.
        """
        self.in_a_row = self.in_a_row + 1 if fault is self.last else 1
        self.last = fault
        rule = self.rules[fault]
        fatal = rule.fatal_after is not None and self.in_a_row >= rule.fatal_after
        delay = rule.backoff.delay(self.in_a_row)
        if rule.keep_pace and period_s is not None:
            delay = min(delay, period_s)
        return Verdict(delay, fatal, self.in_a_row)
