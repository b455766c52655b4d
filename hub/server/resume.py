"""Bringing a new session up to date without a gap or a duplicate.

Order (the session is registered, and so buffers live entries, before this runs):

1. personal inbox: replay entries after ``resume["inbox"]`` (from the start
   when absent: a citizen offline when its alert was acknowledged still gets it);
2. tenant stream: replay after ``resume["events"]``; when absent, a snapshot
   (consoles: open incidents and unit board; units: open incidents they cover)
   read atomically with the stream's last offset; when the offset is older
   than the retained history, ``reset`` then a snapshot;
3. the live entries buffered meanwhile, each deduplicated by offset.

Live pokes of personal messages (tenant-stream entries with ``to``) are skipped
in step 2: the inbox replay of step 1 is their history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.core.errors import CloseCode
from hub.core.offsets import is_offset, offset_key
from hub.server.neighbours import neighbours_snapshot
from hub.server.node import EVENTS, INBOX, Node, TenantRuntime
from hub.server.session import Session
from hub.server.supervision import skip
from hub.store.store import SNAPSHOT_MAX_OFFERS, BadEntry

__all__ = ["REPLAY_MAX", "synchronise"]

REPLAY_MAX = 20_000  # tenant-stream entries scanned at most; beyond, reset + snapshot
PAGE = 1000
REPLAY_STALL_S = 10.0


async def synchronise(node: Node, session: Session, resume: Mapping[str, str]) -> None:
    """Replay what the session missed, then switch it to live delivery."""
    rt = node.runtime(session)
    await _replay_inbox(node, session, rt, resume.get(INBOX, "0"))
    if session.role != "citizen":
        after = resume.get(EVENTS)
        if (
            after is None
            or not is_offset(after)
            or not await _replay_events(node, session, rt, after)
        ):
            if after is not None:
                session.send_message({"type": "reset", "stream": EVENTS})
            await send_snapshot(node, session, rt)
    elif session.neighbour_cells:
        await _resume_neighbours(node, session, rt, resume.get(EVENTS))
    node.catch_up(session)  # none if closed while replaying: the client resumes from what it got


async def _resume_neighbours(
    node: Node, session: Session, rt: TenantRuntime, after: str | None
) -> None:
    """A resident of the neighbours' feed: what it missed, or where it stands now."""
    if after is not None and is_offset(after) and await _replay_events(node, session, rt, after):
        return
    if after is not None:
        session.send_message({"type": "reset", "stream": EVENTS})
    session.send_message(await neighbours_snapshot(node, session, rt))


async def _room_for_one_more(session: Session) -> bool:
    """Pace a replay by the client: wait while the outbox is half full.

    A backlog may be far larger than the outbox (a 4408 guarantees it); Redis
    holds the history, so the replay waits for the client rather than queueing
    it all. A client that reads nothing for REPLAY_STALL_S is closed 4408.
    """
    if session.outbox.half_full():
        await session.flush(REPLAY_STALL_S)
        if session.outbox.half_full():
            session.close(CloseCode.TOO_SLOW, "too slow to resume")
    return session.close_code is None


async def _replay_inbox(node: Node, session: Session, rt: TenantRuntime, after: str) -> None:
    stream = rt.keys.inbox(session.role, session.sub)
    after = after if is_offset(after) else "0"
    while True:
        entries = await node.store.range_after(stream, after, PAGE)
        for entry in entries:
            if isinstance(entry, BadEntry):
                skip(node.metrics, rt.config.id, entry.record)
                continue
            if not await _room_for_one_more(session):
                return
            session.protocol.inbox_floor = offset_key(entry.offset)
            session.send_message({**entry.body, "stream": INBOX, "offset": entry.offset})
        if len(entries) < PAGE:
            return
        after = entries[-1].offset


async def _replay_events(node: Node, session: Session, rt: TenantRuntime, after: str) -> bool:
    """Replay the tenant stream after `after`; False when history is not retained."""
    first = await node.store.first_offset(rt.keys.events)
    if first is not None and offset_key(after) < offset_key(first) and offset_key(after) != (0, 0):
        return False  # the client's last entry was trimmed: entries after it may be too
    if offset_key(after) > offset_key(await node.store.last_offset(rt.keys.events)):
        return False  # an offset from the future (another stream, a reset Redis): start over
    session.protocol.events_floor = offset_key(after)
    scanned = 0
    while scanned < REPLAY_MAX:
        entries = await node.store.range_after(rt.keys.events, after, PAGE)
        scanned += len(entries)
        for entry in entries:
            if isinstance(entry, BadEntry):
                skip(node.metrics, rt.config.id, entry.record)
                continue
            # Pokes are replayed from the inbox; live-only entries are not replayed.
            if entry.to is None and not node.ephemeral(entry) and node.wants(session, entry):
                if not await _room_for_one_more(session):
                    return True  # closed 4408: the client resumes from what it got
                node.deliver(session, entry, node.event_for(entry))
        if len(entries) < PAGE:
            return True
        after = entries[-1].offset
    return False


async def send_snapshot(node: Node, session: Session, rt: TenantRuntime) -> None:
    """Send a snapshot and move the session's floor to the snapshot's offset."""
    # A unit's view has no offers (its inbox replays its own): none are read for it.
    offers = 0 if session.role == "unit" else SNAPSHOT_MAX_OFFERS
    last, snapshot, skipped = await node.store.snapshot(rt.keys, max_offers=offers)
    for record in skipped:
        skip(node.metrics, rt.config.id, record)
    if session.role == "unit":
        snapshot = _unit_view(rt, session, snapshot)
    snapshot["stream"], snapshot["offset"] = EVENTS, last
    session.protocol.events_floor = max(session.protocol.events_floor, offset_key(last))
    session.send_message(snapshot)


def _unit_view(rt: TenantRuntime, session: Session, snapshot: dict[str, Any]) -> dict[str, Any]:
    """A unit sees the open incidents of its coverage, and no unit board."""
    mine = [i for i in snapshot["incidents"] if rt.units.covers(session, i["cell"])]
    return {"type": "snapshot", "incidents": mine, "units": []}
