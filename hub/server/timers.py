"""Periodic work shared by every process: assignment deadlines, queue aging, retention.

Deadlines live in a Redis sorted set; every process reads it at the next
deadline (at least once a second), and the
`assignment_end` script only ends an *offered* assignment, so when two
processes race for the same deadline exactly one wins and only the winner
recommends the next unit. Aging runs once per period per tenant: the process
that takes the period's lock does it. One loop per job and tenant in each
process, not one timer per assignment; each runs under hub.core.supervision's
rule (a failing turn is counted and retried, six errors in a row are fatal),
and a bad record met on the way is skipped, never a reason to stop.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub import maintenance
from hub.core import lifecycle, priority
from hub.core.errors import ErrorCode, ProtocolError
from hub.core.records import BadRecord
from hub.core.supervision import LoopHealth
from hub.server.beats import sleep_to_beat
from hub.server.handlers import now_ms
from hub.server.node import Node, TenantRuntime
from hub.server.recommending import lifecycle_context, recommend_and_dispatch
from hub.server.supervision import after_fault, must_not_end, skip

__all__ = [
    "AGING_PERIOD_S",
    "DEADLINE_POLL_S",
    "NextTurn",
    "age_queue",
    "expire_due",
    "purge_records",
    "refresh_presence",
    "run_timers",
    "sweep_presence",
]

log = logging.getLogger("vigie.timers")

# The deadline loop reads the earliest deadlines and sleeps until the next one,
# but never longer than this: an offer made meanwhile (by any process) ends at
# least 1 s after it was made (assignment_timeout_s >= 1, a console's >= 5), so
# it is seen before its deadline and ended on time. At rest that is one read a
# second per tenant instead of four.
DEADLINE_POLL_S = 1.0
DEADLINE_BATCH = 100  # deadlines ended per turn; more due: the next turn comes at once
AGING_PERIOD_S = 30.0
QUEUE_TOP = 200  # the `queue` message lists the head of the queue, not all of it
PRESENCE_PERIOD_S = 20.0  # connected units are marked seen this often
PRESENCE_STALE_MS = 75_000  # online but unseen this long: its process died
PURGE_PERIOD_S = 3600.0  # retention runs hourly; the periods are days


@dataclass(frozen=True, slots=True)
class NextTurn:
    """A job's answer to its loop: run again in `seconds`, not after the loop's period."""

    seconds: float


async def expire_due(node: Node, rt: TenantRuntime) -> NextTurn | None:
    """End every offered assignment past its deadline; the next turn comes at the
    next deadline when it is less than `DEADLINE_POLL_S` away (at once when more
    were due), else on the loop's next beat (None), at most `DEADLINE_POLL_S` away."""
    now = now_ms()
    due, ahead_ms = await node.dispatch.due_assignments(rt.keys, now, DEADLINE_BATCH)
    for assignment in due:
        ctx = lifecycle_context(node, rt, "hub", "hub", now)
        params = {"assignment": assignment, "state": "expired", "reason": "no answer in time"}
        try:
            incident_id, unit = await node.dispatch.run("assignment_end", ctx, params, acked=False)
        except ProtocolError as exc:
            # Another process expired it, or the unit answered just in time; or the
            # assignment does not exist (corrupt data): its deadline goes either way,
            # or it would come back every poll and take the place of real ones.
            await node.dispatch.drop_deadline(rt.keys, assignment)
            if exc.code is ErrorCode.NOT_FOUND:
                skip(node.metrics, rt.config.id, BadRecord("deadline", assignment, exc.message))
            continue
        found = await node.dispatch.incident(rt.keys, incident_id)
        if found is not None:
            await recommend_and_dispatch(node, rt, found[0], now, exclude=(unit,))
    if len(due) >= DEADLINE_BATCH:
        return NextTurn(0.0)  # more may be due
    ahead_s = None if ahead_ms is None else (ahead_ms - now_ms()) / 1000
    if ahead_s is None or ahead_s >= DEADLINE_POLL_S:
        return None  # nothing due within the poll: the next beat
    return NextTurn(max(0.0, ahead_s))


async def age_queue(node: Node, rt: TenantRuntime, now: int | None = None) -> bool:
    """Raise waiting incidents' scores by their waiting time and tell consoles the order.

    Returns False when another process holds this period's lock.
    """
    now = now_ms() if now is None else now
    lock_ms = int(AGING_PERIOD_S * 1000 * 0.9)
    if not await node.dispatch.claim(rt.keys.job_lock("aging"), lock_ms):
        return False
    # Batch by batch (read, score, write): each turn of the loop does a bounded
    # share of a queue that may hold thousands of incidents.
    scores: dict[str, float] = {}
    async for rows, bad in node.dispatch.waiting_batches(rt.keys):
        for record in bad:
            skip(node.metrics, rt.config.id, record)
        batch = {
            w.id: priority.score(w.priority, w.reporters, (now - w.opened_at) / 1000)
            for w in rows
            if w.status in lifecycle.WAITING
        }
        if batch:
            await node.dispatch.set_scores(rt.keys, batch)
            scores.update(batch)
    if not scores:
        return True
    order = heapq.nlargest(QUEUE_TOP, scores.items(), key=lambda kv: kv[1])
    top = [{"id": i, "score": s} for i, s in order]
    body = {"type": "queue", "incidents": top, "waiting": len(scores), "at": now}
    await node.dispatch.emit(rt.keys, node.config.hub.stream_maxlen, "queue", body)
    return True


Job = Callable[[Node, TenantRuntime], Awaitable[object]]


async def _every(period_s: float, name: str, node: Node, rt: TenantRuntime, job: Job) -> None:
    """Run `job` for one tenant every `period_s` (on the beats of hub.server.beats,
    unless it names its next turn); faults as hub.core.supervision says."""
    health = LoopHealth.default()
    while True:
        try:
            done = await job(node, rt)
        except Exception as exc:
            await after_fault(node.metrics, name, rt.config.id, health, exc, period_s)
            continue
        health.ok()
        if isinstance(done, NextTurn):
            await asyncio.sleep(done.seconds)  # a deadline: its own time, not a beat's
        else:
            await sleep_to_beat(period_s)


async def refresh_presence(node: Node, rt: TenantRuntime) -> None:
    """Mark the units connected to this process as seen now (one pipeline)."""
    units = {session.sub for session in rt.unit_sessions}
    if units:
        for record in await node.dispatch.touch_units(rt.keys, units, now_ms()):
            skip(node.metrics, rt.config.id, record)


async def sweep_presence(node: Node, rt: TenantRuntime, now: int | None = None) -> list[str]:
    """Mark offline the units shown online that no process has seen lately.

    A process killed with SIGKILL never takes back its units' sessions; without
    this, they would stay "online" and be recommended forever. One process per
    period does it (lock); returns the units it marked offline.
    """
    now = now_ms() if now is None else now
    if not await node.dispatch.claim(rt.keys.job_lock("presence"), int(PRESENCE_PERIOD_S * 900)):
        return []
    online = [u.id for u in rt.board.values() if u.online]
    stale, bad = await node.dispatch.stale_units(rt.keys, online, now - PRESENCE_STALE_MS)
    for record in bad:
        skip(node.metrics, rt.config.id, record)
    for unit_id in stale:
        fields: dict[str, str | int | float] = {"sessions": 0}
        await node.store.unit_update(rt.keys, unit_id, "offline", fields)
        log.warning("unit %s not seen for %d s: marked offline", unit_id, PRESENCE_STALE_MS // 1000)
    return stale


async def purge_records(node: Node, rt: TenantRuntime) -> bool:
    """Apply the tenant's retention periods (one process per period: lock)."""
    if not await node.dispatch.claim(rt.keys.job_lock("retention"), int(PURGE_PERIOD_S * 900)):
        return False
    report = await maintenance.purge(node.store.redis, node.store.scripts, rt.config)
    log.info("retention for %s: %s", rt.config.id, report.to_json())
    return True


LOOPS: tuple[tuple[str, float, Job], ...] = (
    ("deadlines", DEADLINE_POLL_S, expire_due),
    ("aging", AGING_PERIOD_S, age_queue),
    ("presence", PRESENCE_PERIOD_S, refresh_presence),
    ("presence-sweep", PRESENCE_PERIOD_S, sweep_presence),
    ("retention", PURGE_PERIOD_S, purge_records),
)


async def run_timers(node: Node, tasks: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
    """Start this process's deadline, aging, presence and retention loops, one per tenant."""
    started = []
    for rt in node.tenants.values():
        for name, period_s, job in LOOPS:
            label = f"{name}:{rt.config.id}"
            loop = _every(period_s, name, node, rt, job)
            started.append(tasks.create_task(must_not_end(label, loop), name=label))
    return started
