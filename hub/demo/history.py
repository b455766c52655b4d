"""Past weeks of a town, replayed through the hub's own scripts, so the statistics
are not empty: the demo seeds them, the benchmark and the tests measure them.

Each past incident takes the path a live one takes (submit_alert.lua, then the
lifecycle scripts), only with its own times: the aggregates it leaves are the
ones the live path leaves. The reporters and the unit are made up; the unit is
removed from the board afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from hub.config import Config, TenantConfig
from hub.core.errors import ProtocolError
from hub.core.geo import cell_of, ring_cells
from hub.core.priority import corroboration_ladder
from hub.demo.town import Town
from hub.server.commands import transition
from hub.server.handlers import stats_args
from hub.store.dispatch import DispatchStore, LifecycleContext
from hub.store.keys import TenantKeys
from hub.store.store import Store

__all__ = ["ARCHIVE_UNIT", "PastIncident", "PastStep", "replay", "synthetic"]

ARCHIVE_UNIT: Final = "archive"  # the made-up unit of past incidents
MINUTE: Final = 60_000
# Hours of the day (local) and how busy they are: evenings and nights, weekends more.
HOUR_WEIGHTS: Final = (
    5, 3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 7, 8, 9, 10, 11, 12, 10, 8,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PastStep:
    """One lifecycle action at a time: acknowledge, dispatch, on_scene, resolve, close, reject."""

    action: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class PastIncident:
    """A past incident: its first report, the corroborations after it, its steps."""

    category: str
    lat: float
    lon: float
    at_ms: int
    steps: tuple[PastStep, ...] = ()
    more_reports_ms: tuple[int, ...] = field(default=())  # delays of corroborations


async def replay(
    store: Store,
    config: Config,
    tenant: TenantConfig,
    incidents: Sequence[PastIncident],
    concurrency: int = 8,
) -> int:
    """Replay `incidents` (in time order) through the scripts; returns how many incidents
    the hub holds for them.

    Replayed `concurrency` at a time, a report may join an incident of the same kind
    replayed alongside (as it would live); the steps that incident's state then
    refuses are skipped.
    """
    keys = TenantKeys(tenant.id)
    dispatch = DispatchStore(store.redis, store.scripts)
    await store.unit_update(keys, ARCHIVE_UNIT, "status", {"status": "available"})
    gate = asyncio.Semaphore(concurrency)
    counter = itertools.count()

    async def one(incident: PastIncident) -> str:
        async with gate:
            return await _replay_one(store, dispatch, config, tenant, keys, incident, counter)

    try:
        done = await asyncio.gather(*(one(i) for i in incidents))
    finally:
        await store.redis.srem(keys.units, ARCHIVE_UNIT)
        await store.redis.delete(keys.unit(ARCHIVE_UNIT))
    return len(set(done) - {""})


async def _replay_one(
    store: Store,
    dispatch: DispatchStore,
    config: Config,
    tenant: TenantConfig,
    keys: TenantKeys,
    incident: PastIncident,
    counter: Iterator[int],
) -> str:
    category = tenant.categories[incident.category]
    cell = cell_of(incident.lat, incident.lon, config.hub.h3_resolution)
    incident_id = ""
    for delay in (0, *incident.more_reports_ms):
        at = incident.at_ms + delay
        outcome = await store.submit_alert(
            keys, citizen=f"past-{next(counter)}", ref="r", category=incident.category,
            lat=incident.lat, lon=incident.lon, cell=cell, text="", accuracy_m=None, now_ms=at,
            candidates=ring_cells(cell, tenant.group_k), group_window_s=tenant.group_window_s,
            rate=(0, 1.0), ladder=corroboration_ladder(category.priority),
            stats=stats_args(tenant, cell, at, incident.category),
        )  # fmt: skip
        incident_id = incident_id or outcome.incident
    try:
        for step in incident.steps:
            await _step(dispatch, config, tenant, keys, incident_id, step)
    except ProtocolError:
        pass  # it joined an incident replayed alongside, whose own steps came first
    return incident_id


async def _step(
    dispatch: DispatchStore,
    config: Config,
    tenant: TenantConfig,
    keys: TenantKeys,
    incident_id: str,
    step: PastStep,
) -> None:
    ctx = LifecycleContext.for_tenant(config.hub, tenant, "history", "history", step.at_ms)
    live = {"live": ["open", "acknowledged", "dispatched", "on_scene"]}
    if step.action == "dispatch":
        params = {"incident": incident_id, "unit": ARCHIVE_UNIT, "timeout_ms": 60_000}
        (asg, _) = await dispatch.run(
            "assign", ctx, {**params, "allowed": ["acknowledged", "open"]}
        )
        await dispatch.run(
            "assignment_end",
            ctx,
            {"assignment": asg, "state": "accepted", "unit": ARCHIVE_UNIT, **transition("accept")},
        )
    elif step.action in ("on_scene", "resolve"):
        params = {"incident": incident_id, "unit": ARCHIVE_UNIT, **transition(step.action)}
        await dispatch.run("unit_incident_status", ctx, {**params, "unit_status": "available"})
    else:
        params = {"incident": incident_id, **live, **transition(step.action)}
        await dispatch.run("incident_update", ctx, params)


def _lognormal_ms(rng: random.Random, median_min: float, spread: float = 0.6) -> int:
    return max(1000, int(rng.lognormvariate(math.log(median_min), spread) * MINUTE))


def _steps(rng: random.Random, priority: int, at: int) -> tuple[PastStep, ...]:
    """A plausible life: urgent ones get a patrol, the others mostly a call back."""
    t = at
    steps = []

    def after(median_min: float) -> int:
        nonlocal t
        t += _lognormal_ms(rng, median_min)
        return t

    if priority >= 3 or rng.random() < 0.3:
        steps.append(PastStep("acknowledge", after(1.5 + priority)))
    if rng.random() < 0.05 and priority >= 3:
        return (*steps, PastStep("reject", after(5)))
    if priority <= 2 or rng.random() < 0.35:
        steps.append(PastStep("dispatch", after(2 * priority)))
        steps.append(PastStep("on_scene", after(4 + 2 * priority)))
        steps.append(PastStep("resolve", after(15 + 5 * priority)))
    else:
        steps.append(PastStep("close", after(20 + 10 * priority)))
    return tuple(steps)


def synthetic(
    town: Town, days: int, per_day: int, end_ms: int, rng: random.Random
) -> list[PastIncident]:
    """About `per_day` alerts a day (corroborations included) over the `days` days
    before `end_ms`, in time order."""
    zone = ZoneInfo(town.tenant.timezone)
    incidents: list[PastIncident] = []
    alerts = 0
    while alerts < days * per_day:
        at = end_ms - rng.randrange(days * 86_400_000)
        local = datetime.fromtimestamp(at / 1000, zone)
        weekend = 1.5 if local.weekday() >= 4 else 1.0
        if rng.random() * 12 * 1.5 > HOUR_WEIGHTS[local.hour] * weekend:
            continue  # the quiet hours keep fewer of the draws
        category = town.category()
        beat = rng.choice(town.beats)
        lat, lon = town.near(beat.lat, beat.lon, 600)
        priority = town.tenant.categories[category].priority
        extra = tuple(
            sorted(rng.randrange(1, 10) * MINUTE for _ in range(rng.choice((0, 0, 1, 2))))
        )
        incidents.append(PastIncident(category, lat, lon, at, _steps(rng, priority, at), extra))
        alerts += 1 + len(extra)
    incidents.sort(key=lambda i: i.at_ms)
    return incidents
