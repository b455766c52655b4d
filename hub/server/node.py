"""This process's view of the cluster: local sessions, stream followers, fan-out.

Rule: every event reaches sessions through here, from the tenant's Redis
stream. A process follows each served tenant's stream with one blocking
reader, and routes each entry through in-memory indexes (consoles, cell →
unit sessions, identity → sessions), encoding it once per codec. Whether a
session was connected here or to another process, it sees the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from redis.exceptions import RedisError

from hub.config import Config, TenantConfig
from hub.core.codec import EncodedEvent
from hub.core.coverage import CoverageIndex, cells_overlap, unit_coverage
from hub.core.errors import CloseCode
from hub.core.geo import TenantArea
from hub.core.lifecycle import UNIT_UNSEEN
from hub.core.offsets import offset_key
from hub.core.privacy import notice_for_residents
from hub.core.recommend import UnitInfo
from hub.core.records import BadRecord
from hub.core.routing import Reader, audience, includes
from hub.core.session import State
from hub.core.supervision import Fault, LoopHealth
from hub.server.beats import sleep_to_beat
from hub.server.cork import Cork
from hub.server.metrics import Metrics
from hub.server.session import Session
from hub.server.supervision import after_fault, classify, must_not_end, skip
from hub.store.dispatch import DispatchStore
from hub.store.keys import TenantKeys
from hub.store.store import BadEntry, Store, StreamEntry

__all__ = ["EVENTS", "INBOX", "Node", "TenantRuntime"]

log = logging.getLogger("vigie.node")

EVENTS = "events"  # client-facing name of the tenant's shared stream
INBOX = "inbox"  # client-facing name of a session's personal stream
FOLLOW_COUNT = 500  # entries per read; a full batch means we are behind the writers
CANARY_PERIOD_S = 2.0  # each process writes a canary to each tenant's canary stream
# The reader's XREAD blocks a little longer than the canary period: at rest it
# returns with each canary (the read proves it still receives), never on a timer
# of Redis's own between two canaries, which cost one more wakeup of the process
# a second for nothing. It stays below the client's socket timeout
# (hub.server.app.REDIS_TIMEOUT_S), which still bounds a read from a hung Redis.
FOLLOW_BLOCK_MS = int(CANARY_PERIOD_S * 1000) + 500
CANARY_MAXLEN = 100  # the canary stream keeps only the last few
CANARY_STALE_S = 10.0  # no canary read back for this long: the feed is dead, say so


class Unchanged:
    """Marker type: a field the caller does not change."""


UNCHANGED = Unchanged()


@dataclass(slots=True)
class TenantRuntime:
    """Per-tenant state of this process."""

    config: TenantConfig
    keys: TenantKeys
    area: TenantArea
    consoles: set[Session] = field(default_factory=set)
    # This process's unit sessions, whatever they cover: what the presence loop
    # marks seen, without walking every citizen's session (10,000 at rest).
    unit_sessions: set[Session] = field(default_factory=set)
    units: CoverageIndex[Session] = field(default_factory=CoverageIndex)
    citizens_following: set[Session] = field(default_factory=set)  # notice recipients
    neighbours: set[Session] = field(default_factory=set)  # opted in to the neighbours' feed
    by_identity: dict[tuple[str, str], set[Session]] = field(default_factory=dict)
    # The tenant's unit board, loaded at start and kept from `unit` events: what
    # recommendations rank, without a Redis scan per incident.
    board: dict[str, UnitInfo] = field(default_factory=dict)
    read_offset: str = "0-0"
    canary_offset: str = "0-0"
    last_read_at: float = 0.0
    canary_seen_at: float = 0.0  # when this process last read back its own canary
    canary_lag_ms: float = 0.0


class Node:
    """Local sessions and the fan-out of this hub process."""

    def __init__(self, config: Config, store: Store, node_id: str) -> None:
        self.config = config
        self.store = store
        self.node_id = node_id
        self.metrics = Metrics()
        self.tenants = {
            tid: TenantRuntime(
                t, TenantKeys(tid), TenantArea.from_polygon(t.area, config.hub.h3_resolution)
            )
            for tid, t in config.tenants.items()
        }
        self.sessions: dict[str, Session] = {}
        self.redis_ok = False
        self.dispatch = DispatchStore(
            store.redis, store.scripts, self.metrics.observe_stage, store.acks
        )
        self.draining = False  # SIGTERM received: no new sessions
        self.failed: str | None = None  # a loop cannot go on: why (hub.server.failure)
        self._background: set[asyncio.Task[None]] = set()
        # Frames of one turn, written with one system call per connection (hub.server.cork).
        self.cork = Cork()

    # -- registry -------------------------------------------------------------------

    def runtime(self, session: Session) -> TenantRuntime:
        """The tenant runtime of a session."""
        return self.tenants[session.tenant.id]

    def register(self, session: Session) -> None:
        """Index a session so that live entries reach it (buffered while syncing)."""
        rt = self.runtime(session)
        self.sessions[session.id] = session
        rt.by_identity.setdefault(session.identity, set()).add(session)
        if session.role == "console":
            rt.consoles.add(session)
        elif session.role == "unit":
            rt.unit_sessions.add(session)
        self.metrics.sessions[session.role] += 1

    def unregister(self, session: Session) -> None:
        """Remove a session from every index."""
        rt = self.runtime(session)
        if self.sessions.pop(session.id, None) is None:
            return
        peers = rt.by_identity.get(session.identity)
        if peers is not None:
            peers.discard(session)
            if not peers:
                del rt.by_identity[session.identity]
        rt.consoles.discard(session)
        rt.unit_sessions.discard(session)
        rt.units.remove(session)
        rt.citizens_following.discard(session)
        rt.neighbours.discard(session)
        self.metrics.sessions[session.role] -= 1

    def set_unit_state(
        self,
        rt: TenantRuntime,
        unit_id: str,
        *,
        sector: list[str] | None = None,
        cell: str | Unchanged | None = UNCHANGED,
        status: str | None = None,
        online: bool | None = None,
    ) -> None:
        """Update a unit on the board and re-index its local sessions' coverage."""
        old = rt.board.get(unit_id) or UnitInfo(unit_id, UNIT_UNSEEN, False, None)
        unit = replace(
            old,
            sector=old.sector if sector is None else tuple(sector),
            cell=old.cell if isinstance(cell, Unchanged) else cell,
            status=status or old.status,
            online=old.online if online is None else online,
        )
        rt.board[unit_id] = unit
        sessions = rt.by_identity.get(("unit", unit_id))
        if not sessions or (unit.sector == old.sector and unit.cell == old.cell and
                            all(s in rt.units for s in sessions)):  # fmt: skip
            return
        cells = unit_coverage(unit.sector, unit.cell, rt.config.cover_k)
        for session in sessions:
            rt.units.assign(session, cells)

    def set_neighbours(self, session: Session, cells: Iterable[str]) -> None:
        """The cells whose published incidents a resident sees (none: opted out)."""
        session.neighbour_cells = frozenset(cells)
        neighbours = self.runtime(session).neighbours
        if session.neighbour_cells:
            neighbours.add(session)
        else:
            neighbours.discard(session)

    def set_follow(
        self, session: Session, cells: Iterable[str] | None = None, *, alert_cell: str | None = None
    ) -> None:
        """The cells a citizen follows for notices: those it asked for (`cells`, from
        `citizen.follow`; None keeps them) and its last alert's cell (None keeps it).

        Only the last alert's cell (docs/protocol.md): one added per alert, a citizen
        reporting all over town would come to follow every cell it ever reported in,
        the set and its copy per alert growing with every alert (issue #13).
        """
        if cells is not None:
            session.followed = frozenset(cells)
        if alert_cell is not None:
            session.alert_cell = alert_cell
        extra = () if session.alert_cell is None else (session.alert_cell,)
        session.follow_cells = session.followed.union(extra)
        following = self.runtime(session).citizens_following
        if session.follow_cells:
            following.add(session)
        else:
            following.discard(session)

    def background(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run follow-up work (recommendations) without holding up the reply.

        The task set is owned by the node and cancelled at shutdown; a failure
        is logged, never lost.
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.metrics.loop_errors[("background", "", Fault.ERROR.value)] += 1
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def cancel_background(self) -> None:
        """Cancel follow-up work still running (shutdown)."""
        for task in list(self._background):
            task.cancel()

    # -- routing --------------------------------------------------------------------

    def recipients(self, rt: TenantRuntime, entry: StreamEntry) -> Iterator[Session]:
        """The local sessions an entry is for: `hub.core.routing`'s audience, from the indexes."""
        aud = audience(entry.kind, entry.to, entry.cell, entry.body)
        if aud.identity is not None:
            yield from rt.by_identity.get(aud.identity, ())
            return
        if aud.consoles:
            yield from rt.consoles
        if aud.cell is not None:
            yield from rt.units.lookup(aud.cell)
        if aud.notice_cells is not None:
            cells = aud.notice_cells
            yield from (s for s in rt.citizens_following if cells_overlap(s.follow_cells, cells))
        if aud.neighbour_cells is not None:
            cells = aud.neighbour_cells
            yield from (s for s in rt.neighbours if cells_overlap(s.neighbour_cells, cells))

    def wants(self, session: Session, entry: StreamEntry) -> bool:
        """True when a replayed `entry` is for `session`: the same audience, asked of one."""
        rt = self.runtime(session)
        reader = Reader(
            session.role, session.sub, lambda cell: rt.units.covers(session, cell),
            session.follow_cells, session.neighbour_cells,
        )  # fmt: skip
        return includes(audience(entry.kind, entry.to, entry.cell, entry.body), reader)

    def fan_out(self, rt: TenantRuntime, entry: StreamEntry) -> None:
        """Deliver one tenant-stream entry to its local recipients."""
        if entry.kind == "unit":
            self._observe_unit(rt, entry)
        targets = list(self.recipients(rt, entry))
        if not targets:
            return
        if entry.kind == "notice":  # targeted finely, it tells residents only a coarse place
            body = notice_for_residents(entry.body, rt.config.notice_resolution)
            entry = replace(entry, body=body)
        event = self.event_for(entry)
        coalesce: tuple[str, object] | None = None
        if entry.kind == "unit" and self.ephemeral(entry):
            coalesce = ("unit", entry.body.get("unit", {}).get("id"))
        for session in targets:  # the hot loop of the hub: plain attributes, no properties
            protocol = session.protocol
            if protocol.close_decided is not None:
                continue
            if protocol.state is State.SYNCING:
                overflow = protocol.buffer(entry)
                if overflow is not None:
                    session.close(overflow.code, overflow.reason)
                continue
            try:
                self.deliver(session, entry, event, coalesce)
            except Exception:  # one session's failure must not starve the others
                log.exception("delivery of %s to session %s failed", entry.offset, session.id)
                session.close(CloseCode.INTERNAL_ERROR, "internal error")

    def catch_up(self, session: Session) -> None:
        """End a session's sync or hold: deliver, in order, the live entries it buffered."""
        if not session.syncing:
            return
        for entry in session.protocol.synced():
            self.deliver(session, entry, self.event_for(entry))

    def deliver(
        self,
        session: Session,
        entry: StreamEntry,
        event: EncodedEvent,
        coalesce: tuple[str, object] | None = None,
    ) -> None:
        """Push an entry to one session unless its floor says it already has it."""
        key = event.order
        if not session.protocol.fresh(key, entry.to is not None):
            self.metrics.duplicates_suppressed += 1
            return
        durable = key is not None or entry.to is not None
        session.push(event.frame(session.codec), durable=durable, key=coalesce)
        self.metrics.messages_out += 1

    @staticmethod
    def ephemeral(entry: StreamEntry) -> bool:
        """Live-only entries: sent without an offset, never replayed.

        Positions are state, not history (coalesced in the outbox; the snapshot
        carries the latest); notices reach whoever is connected now.
        """
        if entry.kind == "notice":
            return True
        return entry.kind == "unit" and entry.body.get("change") == "position"

    def event_for(self, entry: StreamEntry) -> EncodedEvent:
        """The message an entry becomes on the wire (stream and offset added)."""
        if self.ephemeral(entry):
            return EncodedEvent(entry.body)
        if entry.to is not None:  # a poke already carries its inbox offset
            return EncodedEvent(entry.body, offset_key(str(entry.body.get("offset", "0-0"))))
        message = {**entry.body, "stream": EVENTS, "offset": entry.offset}
        return EncodedEvent(message, offset_key(entry.offset))

    def _observe_canary(self, rt: TenantRuntime, entry: StreamEntry) -> None:
        if entry.body.get("node") != self.node_id:
            return
        sent_at = entry.body.get("sent_at")
        if not isinstance(sent_at, int | float):
            skip(
                self.metrics,
                rt.config.id,
                BadRecord("canary", entry.offset, "sent_at is not a number"),
            )
            return
        rt.canary_seen_at = time.monotonic()
        rt.canary_lag_ms = max(0.0, time.time() * 1000 - float(sent_at))

    def _observe_unit(self, rt: TenantRuntime, entry: StreamEntry) -> None:
        unit = entry.body["unit"]  # its shape is checked when the entry is read (records)
        unit_id = unit["id"]
        sector = unit.get("sector")
        if sector == {}:  # Lua's cjson encodes an empty list as an empty object
            sector = []
        self.set_unit_state(
            rt,
            unit_id,
            sector=sector if isinstance(sector, list) else None,
            cell=unit.get("cell"),
            status=unit.get("status"),
            online=unit.get("online"),
        )

    # -- followers ------------------------------------------------------------------

    async def start_followers(self, tasks: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        """Start one stream reader per tenant, from the stream's current end."""
        started = []
        for rt in self.tenants.values():
            tid = rt.config.id
            rt.read_offset = await self.store.last_offset(rt.keys.events)
            rt.canary_offset = await self.store.last_offset(rt.keys.canary)
            # After the offset: events past it are applied on top, so the board converges.
            units, bad = await self.dispatch.units(rt.keys)
            for record in bad:
                skip(self.metrics, tid, record)
            rt.board = {u.id: u for u in units}
            rt.last_read_at = rt.canary_seen_at = time.monotonic()
            for name, loop in (("follow", self._follow(rt)), ("canary", self._canary(rt))):
                started.append(
                    tasks.create_task(must_not_end(f"{name}:{tid}", loop), name=f"{name}:{tid}")
                )
        return started

    async def _canary(self, rt: TenantRuntime) -> None:
        """Write a canary through Redis and expect to read it back (see `feeds_alive`).

        A health check that only pings Redis cannot see a reader that silently
        stopped receiving; reading our own canary back through the same stream
        and reader as every event can.
        """
        health = LoopHealth.default()
        while True:
            body = {"type": "canary", "node": self.node_id, "sent_at": time.time() * 1000}
            try:
                await self.dispatch.emit(
                    rt.keys, CANARY_MAXLEN, "canary", body, stream=rt.keys.canary
                )
            except Exception as exc:
                await after_fault(
                    self.metrics, "canary", rt.config.id, health, exc, CANARY_PERIOD_S
                )
                continue
            health.ok()
            await sleep_to_beat(CANARY_PERIOD_S)

    async def _follow(self, rt: TenantRuntime) -> None:
        """Follow the tenant's streams for ever; faults as hub.core.supervision says."""
        health = LoopHealth.default()
        lagging = False  # after an outage or a full batch, the stream may have been trimmed
        while True:
            try:
                lagging = await self._follow_once(rt, lagging)
            except Exception as exc:
                if classify(exc) is Fault.OUTAGE:
                    self.redis_ok, lagging = False, True
                await after_fault(self.metrics, "follow", rt.config.id, health, exc)
            else:
                health.ok()

    async def _follow_once(self, rt: TenantRuntime, lagging: bool) -> bool:
        """One blocking read and the fan-out of what it got; returns `lagging`."""
        if lagging:
            with contextlib.suppress(RedisError, OSError):  # the read below says so
                lagging = await self._resync_if_trimmed(rt)
        # One XREAD over the events and the canary stream (same hash slot): the
        # canary proves this very reader still receives.
        streams = {rt.keys.events: rt.read_offset, rt.keys.canary: rt.canary_offset}
        batches = await self.store.read_events(
            streams, count=FOLLOW_COUNT, block_ms=FOLLOW_BLOCK_MS
        )
        self.redis_ok = True
        rt.last_read_at = time.monotonic()
        for key, entries in batches:
            canary = key == rt.keys.canary
            if not canary:
                lagging = len(entries) >= FOLLOW_COUNT
            for entry in entries:
                if canary:
                    rt.canary_offset = entry.offset
                else:
                    rt.read_offset = entry.offset
                    self.metrics.entries_read += 1
                self._take(rt, entry, canary)
        self.cork.flush()  # the batch's frames now: one write per recipient, however many
        return lagging

    def _take(self, rt: TenantRuntime, entry: StreamEntry | BadEntry, canary: bool) -> None:
        """Apply one entry read by the follower; a bad one is skipped, never fatal."""
        if isinstance(entry, BadEntry):
            skip(self.metrics, rt.config.id, entry.record)
            return
        try:
            if canary:
                self._observe_canary(rt, entry)
            else:
                self.fan_out(rt, entry)
        except Exception:  # one bad entry must not stop the tenant's feed
            log.exception("fan-out of %s failed", entry.offset)
            source = "canary" if canary else "events"
            skip(self.metrics, rt.config.id, BadRecord(source, entry.offset, "fan-out failed"))

    async def _resync_if_trimmed(self, rt: TenantRuntime) -> bool:
        """Close this tenant's sessions if entries we never read were trimmed away.

        Delivering what follows a gap would move sessions' offsets past entries
        they never got (pokes included), and their next resume would skip them
        for good. Closed with 1012 instead, they resume from before the gap:
        the inbox replays exactly, the shared stream resets to a snapshot.
        """
        position = rt.read_offset  # where this reader stood when it fell behind
        first = await self.store.first_offset(rt.keys.events)
        if first is None or position in ("0-0", "0"):
            return False
        if offset_key(first) <= offset_key(position):
            return False
        log.error("stream %s trimmed past this process's position: resyncing", rt.keys.events)
        for sessions in list(rt.by_identity.values()):
            for session in list(sessions):
                session.close(CloseCode.SERVICE_RESTART, "missed events: reconnect and resume")
        return False

    def feeds_alive(self) -> bool:
        """True when every tenant reader read back this process's canary recently."""
        if self.failed is not None:
            return False
        now = time.monotonic()
        return all(now - rt.canary_seen_at <= CANARY_STALE_S for rt in self.tenants.values())
