"""Background loops under the rule of hub.core.supervision: classify, count, wait, give up.

Every loop started in the app's lifespan (stream followers, canaries, timers)
runs its turns through `after_fault` and is started through `must_not_end`:
a fault is logged and counted (`vigie_loop_errors_total`), then waited out,
and a loop that cannot go on raises `LoopFailed`, which ends the lifespan's
task group (hub.server.failure takes it from there). Bad records are skipped
through `skip`, which logs and counts them (`vigie_bad_records_total`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.core.records import BadRecord
from hub.core.supervision import Fault, LoopHealth
from hub.server.metrics import Metrics
from hub.store.client import is_read_only
from hub.store.replication import NotReplicatedError

__all__ = ["OUTAGES", "LoopFailed", "after_fault", "classify", "must_not_end", "skip"]

log = logging.getLogger("vigie.loops")

# Redis away, loading its data or failing over: every process sees the same, and
# waiting is the cure. Any other RedisError (WRONGTYPE on a key the loop needs, a
# script error) is an error like any other.
OUTAGES: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # BusyLoadingError, Sentinel's MasterNotFoundError included
    RedisTimeoutError,
    BusyLoadingError,
    ReadOnlyError,  # a demoted primary (Redis 6.2's script text: `is_read_only`)
    NotReplicatedError,  # WAIT timed out: a replica lags or is away
    TryAgainError,
    # Redis Cluster failing over or resharding: CLUSTERDOWN, MASTERDOWN, "TTL
    # exhausted" (too many redirections), a slot not covered yet, a redirection
    # that leaked out of the client.
    ClusterError,
    SlotNotCoveredError,
    AskError,  # MovedError included
    OSError,
    TimeoutError,
)


class LoopFailed(Exception):
    """A background loop cannot go on: the process must stop serving."""

    def __init__(self, loop: str, reason: str) -> None:
        super().__init__(f"loop {loop}: {reason}")
        self.loop = loop
        self.reason = reason


def classify(exc: BaseException) -> Fault:
    """The fault an exception from a loop's turn (or a client's command) is."""
    return Fault.OUTAGE if isinstance(exc, OUTAGES) or is_read_only(exc) else Fault.ERROR


async def after_fault(
    metrics: Metrics,
    loop: str,
    tenant: str,
    health: LoopHealth,
    exc: Exception,
    period_s: float | None = None,
) -> None:
    """Count and log a failed turn, then wait its backoff; raise LoopFailed when fatal."""
    fault = classify(exc)
    verdict = health.failed(fault, period_s)
    metrics.loop_errors[(loop, tenant, fault.value)] += 1
    if verdict.fatal:
        log.critical(
            "%s for %s failed %d times in a row; it cannot go on", loop, tenant, verdict.in_a_row,
            exc_info=exc,
        )  # fmt: skip
        raise LoopFailed(f"{loop}:{tenant}", f"{verdict.in_a_row} errors in a row") from exc
    if fault is Fault.OUTAGE:
        log.warning(
            "%s for %s: Redis unavailable (%s); retrying in %.1f s",
            loop, tenant, exc, verdict.delay_s,
        )  # fmt: skip
    else:
        log.error(
            "%s for %s failed (%d in a row); retrying in %.1f s",
            loop, tenant, verdict.in_a_row, verdict.delay_s, exc_info=exc,
        )  # fmt: skip
    await asyncio.sleep(verdict.delay_s)


def skip(metrics: Metrics, tenant: str, record: BadRecord) -> None:
    """Log and count a record that is skipped."""
    metrics.bad_records[(record.source, tenant)] += 1
    log.warning(
        "bad %s record %s of tenant %s skipped: %s",
        record.source,
        record.key,
        tenant,
        record.reason,
    )


async def must_not_end(name: str, loop: Coroutine[Any, Any, None]) -> None:
    """Run a loop that is meant to run for ever; its end is a failure too.

    That includes a CancelledError nobody asked for (this task was not
    cancelled): a task group takes a cancelled child for a normal end, so the
    loop would be gone without a trace.
    """
    try:
        await loop
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # shutdown
        log.critical("loop %s ended by a stray cancellation", name)
        raise LoopFailed(name, "ended by a stray cancellation") from None
    log.critical("loop %s ended unexpectedly", name)
    raise LoopFailed(name, "ended unexpectedly")
