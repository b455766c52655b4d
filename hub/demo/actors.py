"""The people of the demo's evening, each driving one client over a real WebSocket.

* `Patrol`: one unit per configured sector. It covers its sector, drives
  around it sending positions, is sometimes busy, and works its assignments
  (accept, drive there, on scene, resolved).
* `Resident`: a citizen reporting now and then (a Poisson process) near home;
  neighbours sometimes report the same thing, so incidents get corroborated.
* `Operator`: the control room. It watches the console and, when the hub
  implements console commands, acknowledges, dispatches or closes incidents,
  most urgent first. When the hub answers `unknown_type`, it only watches.

Every actor is a coroutine that runs until cancelled; failures it expects
(refusals, timeouts, lost sessions) are journalled, anything else propagates.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final

from clients import Citizen, ClientError, Console, HubError, Incident, Message, Unit
from hub.demo.board import DemoStats, Journal, now_ms
from hub.demo.town import Beat, Town, grid_steps, toward

__all__ = ["Operator", "Patrol", "Resident"]

Spawn = Callable[[Coroutine[Any, Any, None]], object]

TEXTS: Final = {
    "noise": "Musique très forte depuis une heure", "incivility": "Groupe qui crie et jette des "
    "bouteilles", "neighbour_dispute": "Dispute bruyante chez les voisins", "vandalism":
    "Abribus cassé", "suspicious": "Individu qui essaie les poignées de voitures", "road_hazard":
    "Feu tricolore en panne", "theft": "Vol de vélo devant la gare", "rodeo": "Motos qui "
    "font des roues arrière", "other": "Chien errant", "burglary": "Bruit de vitre brisée chez "
    "le voisin absent", "violence": "Bagarre devant le bar", "fire": "Poubelles en feu",
}  # fmt: skip
WITNESS_P: Final = 0.4  # chance that an alert has neighbours reporting the same thing


class Patrol:
    """A patrol unit covering one beat."""

    TICK_S: Final = 1.0
    SPEED_M_S: Final = 400.0  # sped up: a demo cannot wait for real driving times
    MAX_DRIVE_TICKS: Final = 8

    def __init__(
        self, unit: Unit, beat: Beat, town: Town, journal: Journal, stats: DemoStats
    ) -> None:
        self.unit, self.beat, self.town = unit, beat, town
        self.journal, self.stats = journal, stats
        self.here = (beat.lat, beat.lon)
        self.target: tuple[float, float] | None = None
        self.busy_until = 0.0
        self.on_job = False

    @property
    def name(self) -> str:
        """The unit's id."""
        return str(self.unit.welcome["sub"]) if self.unit.welcome else self.beat.name

    async def run(self) -> None:
        """Cover the beat, then drive and answer assignments until cancelled."""
        await self.unit.cover([self.beat.cell])
        await self.unit.status("available")
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._drive())
            async for message in self.unit:
                if message["type"] == "assignment":
                    tasks.create_task(self._job(message))

    async def _drive(self) -> None:
        while True:
            if self.target is None and self.town.rng.random() < 0.3:
                self.target = self.town.near(self.beat.lat, self.beat.lon, 700)
            if self.target is not None:
                self.here = toward(self.here, self.target, self.SPEED_M_S * self.TICK_S)
                if self.here == self.target and not self.on_job:
                    self.target = None
            await self.unit.position(*self.here)
            await self._maybe_take_a_break()
            await asyncio.sleep(self.TICK_S * self.town.rng.uniform(0.8, 1.2))

    async def _maybe_take_a_break(self) -> None:
        now = time.monotonic()
        if self.on_job:
            return
        if self.busy_until and now >= self.busy_until:
            self.busy_until = 0.0
            await self._status("available")
        elif not self.busy_until and self.town.rng.random() < 0.02:
            self.busy_until = now + self.town.rng.uniform(5, 15)
            await self._status("busy")
            self.journal.note(f"{self.name} busy (traffic stop)")

    async def _status(self, status: str) -> None:
        try:
            await self.unit.status(status)
        except ClientError as exc:
            self.journal.note(f"{self.name} status {status} failed: {exc}")

    async def _job(self, offer: Message) -> None:
        incident = Incident.from_wire(offer["incident"])
        try:
            if self.busy_until or self.on_job:
                await self.unit.decline(offer, "busy")
                self.journal.note(f"{self.name} declines {incident.id}: busy")
                return
            self.on_job = True
            await self.unit.accept(offer)
            self.journal.note(f"{self.name} accepts {incident.id} ({incident.category})")
            self.target = (incident.lat, incident.lon)
            for _ in range(self.MAX_DRIVE_TICKS):  # far away: the demo does not wait forever
                if self.here == self.target:
                    break
                await asyncio.sleep(self.TICK_S / 2)
            self.here = self.target
            await self.unit.incident_status(incident, "on_scene", "sur place")
            self.journal.note(f"{self.name} on scene at {incident.id}")
            await asyncio.sleep(self.town.rng.uniform(2, 5))
            await self.unit.incident_status(incident, "resolved", "situation réglée")
            self.stats.resolved += 1
            self.journal.note(f"{self.name} resolved {incident.id}")
        except ClientError as exc:
            self.journal.note(f"{self.name} on {incident.id}: {exc}")
        finally:
            self.on_job, self.target = False, None


class Resident:
    """A citizen who reports what happens near home."""

    MEAN_INTERVAL_S: Final = 30.0

    def __init__(
        self,
        citizen: Citizen,
        home: Beat,
        town: Town,
        journal: Journal,
        stats: DemoStats,
        neighbours: Callable[[Resident], list[Resident]],
        spawn: Spawn,
    ) -> None:
        self.citizen, self.home, self.town = citizen, home, town
        self.journal, self.stats = journal, stats
        self.neighbours, self.spawn = neighbours, spawn
        self.quiet_until = 0.0

    async def run(self) -> None:
        """Report at random times (exponential gaps) until cancelled."""
        while True:
            await asyncio.sleep(self.town.rng.expovariate(1 / self.MEAN_INTERVAL_S))
            await asyncio.sleep(max(0.0, self.quiet_until - time.monotonic()))
            category = self.town.category()
            await self.report(category, *self.town.near(self.home.lat, self.home.lon, 450))

    async def report(self, category: str, lat: float, lon: float, witness: bool = False) -> None:
        """Submit one alert; on success, maybe have neighbours report it too."""
        if time.monotonic() < self.quiet_until:
            return
        self.stats.alerts_sent += 1
        started = time.perf_counter()
        try:
            ack = await self.citizen.submit_alert(category, lat, lon, text=TEXTS.get(category, ""))
        except HubError as exc:
            self._refused(exc)
            return
        except ClientError as exc:
            self.journal.note(f"alert not acked: {exc}")
            return
        self.stats.alerts_acked += 1
        self.stats.last_ack_ms = (time.perf_counter() - started) * 1000
        self.journal.note(
            f"ack {ack['alert']} {category}{' (witness)' if witness else ''} → incident "
            f"{ack['incident']} in {self.stats.last_ack_ms:.1f} ms"
        )
        if not witness and self.town.rng.random() < WITNESS_P:
            for other in self.neighbours(self):
                self.spawn(other.witness(category, lat, lon))

    async def witness(self, category: str, lat: float, lon: float) -> None:
        """Report what a neighbour reported, a little later, from a few dozen metres away."""
        await asyncio.sleep(self.town.rng.uniform(1.0, 6.0))
        await self.report(category, *self.town.near(lat, lon, 40), witness=True)

    def _refused(self, exc: HubError) -> None:
        if exc.code == "rate_limited":
            self.stats.rate_limited += 1
            self.quiet_until = time.monotonic() + (exc.retry_after_s or 60.0)
        else:
            self.stats.refused += 1
            self.journal.note(f"alert refused: {exc}")


class Operator:
    """The control room's operator, scripted: most urgent incident first."""

    REACTION_S: Final = (0.2, 0.6)
    RETRY_S: Final = 4.0
    OFFER_S: Final = 30

    def __init__(self, console: Console, town: Town, journal: Journal, stats: DemoStats) -> None:
        self.console, self.town = console, town
        self.journal, self.stats = journal, stats
        self.supported: bool | None = None  # does the hub implement console commands?
        self._tried: dict[str, float] = {}  # incident id → when we last worked on it
        # unit → until when our offer to it may still be answered: one offer at a time
        # per unit (a tablet opened by a person would otherwise be flooded with offers).
        self._offered: dict[str, float] = {}
        console.add_listener(self._measure)

    async def run(self) -> None:
        """Watch the console and work the queue until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._work())
            async for message in self.console:
                self._watch(message)

    def _measure(self, message: Message) -> None:
        self.stats.event()
        if message["type"] == "incident":
            incident = message["incident"]
            self.stats.last_push_ms = float(max(0, now_ms() - int(incident["updated_at"])))

    def _watch(self, message: Message) -> None:
        kind = message["type"]
        if kind == "incident":
            incident = Incident.from_wire(message["incident"])
            if incident.id not in self.stats.incidents:
                self.stats.incidents.add(incident.id)
                self.journal.note(f"new incident {incident.id} {incident.category} "
                                  f"P{incident.priority} at {incident.cell}")  # fmt: skip
            elif incident.status == "open" and incident.reports > 1:
                self.journal.note(f"{incident.id} corroborated: {incident.reports} reports, "
                                  f"P{incident.priority}")  # fmt: skip
        elif kind == "assignment.state":
            self.journal.note(f"assignment {message.get('assignment')} {message.get('state')} "
                              f"({message.get('unit')} → {message.get('incident')})")  # fmt: skip
            if message.get("state") in ("declined", "expired"):
                self.stats.declined += 1
                self._tried.pop(str(message.get("incident")), None)  # try another unit

    def _next(self) -> Incident | None:
        now = time.monotonic()
        for incident in self.console.model.ranked():
            waiting = incident.status in ("open", "acknowledged") and incident.unit is None
            if waiting and now - self._tried.get(incident.id, -math.inf) > self.RETRY_S:
                return incident
        return None

    async def _work(self) -> None:
        while True:
            incident = self._next() if self.supported is not False else None
            if incident is None:
                await asyncio.sleep(0.25)
                continue
            self._tried[incident.id] = time.monotonic()
            await asyncio.sleep(self.town.rng.uniform(*self.REACTION_S))
            try:
                await self._handle(incident)
            except HubError as exc:
                self._refused(incident, exc)
            except ClientError as exc:
                self.journal.note(f"operator: {incident.id}: {exc}")

    def _refused(self, incident: Incident, exc: HubError) -> None:
        if exc.code == "unknown_type":
            self.supported = False
            self.journal.note("the hub does not implement console commands yet: "
                              "the operator only watches")  # fmt: skip
        else:
            self.journal.note(f"operator: {incident.id} refused: {exc}")

    async def _handle(self, incident: Incident) -> None:
        if incident.status == "open":
            await self.console.update(incident, status="acknowledged", note="vu")
            self.supported = True
        unit = await self._choose_unit(incident)
        if incident.priority <= 3 or (unit is not None and self.town.rng.random() < 0.5):
            if unit is None:
                return  # nobody free: retried after RETRY_S, still at the top of the queue
            reply = await self.console.assign(incident, unit, timeout_s=self.OFFER_S)
            # Not offered again while the unit may still accept (a decline re-opens it).
            self._tried[incident.id] = time.monotonic() + self.OFFER_S
            self._offered[unit] = time.monotonic() + self.OFFER_S
            self.stats.dispatched += 1
            self.journal.note(f"dispatch {incident.id} P{incident.priority} → {unit} "
                              f"({reply.get('assignment', '?')})")  # fmt: skip
        else:
            await self.console.update(incident, status="closed", note="traité par téléphone")
            self.stats.closed += 1
            self.journal.note(f"closed {incident.id} ({incident.category}): handled by phone")

    async def _choose_unit(self, incident: Incident) -> str | None:
        """The hub's first recommended unit that is free, else the nearest free one."""
        now = time.monotonic()
        free = {
            u.id: u
            for u in self.console.model.available_units()
            if self._offered.get(u.id, -math.inf) < now
        }
        try:
            recommended = await self.console.recommend(incident)
        except HubError:
            recommended = {"units": []}
        for choice in recommended.get("units") or ():
            if choice.get("unit") in free:
                return str(choice["unit"])
        reachable = [(grid_steps(incident.cell, u.cell), u.id) for u in free.values() if u.cell]
        return min(reachable)[1] if reachable else None
