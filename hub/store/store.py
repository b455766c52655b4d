"""The hub's Redis store: every read and write of shared state goes through here.

Multi-key changes are Lua scripts (hub/store/lua); this module only marshals
arguments and results. Bytes come back from Redis (no decode_responses); the
few strings we need are decoded here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.core.records import BadRecord, entry_problem
from hub.store.client import RedisLike
from hub.store.keys import TenantKeys
from hub.store.replication import AckPolicy, ReplicaAcks
from hub.store.scripts import ScriptSet

__all__ = [
    "APP",
    "SNAPSHOT_MAX_OFFERS",
    "BadEntry",
    "Intake",
    "Store",
    "StreamEntry",
    "SubmitOutcome",
    "decode_entry",
    "read_entry",
]


@dataclass(frozen=True, slots=True)
class Intake:
    """How an alert came in: a citizen's own session (`APP`) or a channel such as an
    Open311 partner, whose whole flow is rate-limited, whose requests are indexed by
    time (`index_retention_ms` > 0) and whose alerts carry `fields` (source, media)."""

    channel: str = "app"
    rate: tuple[int, float] = (0, 1.0)
    index_retention_ms: int = 0
    fields: Mapping[str, str] = field(default_factory=dict)


APP = Intake()

# Pending offers a console snapshot lists at most: one per live incident at most,
# capped like the incidents it lists.
SNAPSHOT_MAX_OFFERS = 500


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What `submit_alert` did: stored ('ok'), found a duplicate ('dup') or refused ('rate').

    A refusal says whose limit it hit: `limited_by` is 'citizen' or 'channel'.
    """

    kind: str
    alert: str = ""
    incident: str = ""
    at: int = 0
    offset: str = ""
    event: dict[str, Any] | None = None
    retry_after_s: float = 0.0
    limited_by: str = ""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry of a tenant or inbox stream."""

    offset: str
    kind: str
    body: dict[str, Any]
    cell: str | None = None
    to: str | None = None


@dataclass(frozen=True, slots=True)
class BadEntry:
    """A stream entry that cannot be decoded: skipped, but its offset is passed."""

    offset: str
    record: BadRecord


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def decode_entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    """Turn a raw XRANGE/XREAD entry into a StreamEntry."""
    cell, to = fields.get(b"c"), fields.get(b"to")
    return StreamEntry(
        offset=_s(entry_id),
        kind=_s(fields.get(b"k")),
        body=orjson.loads(fields.get(b"d", b"{}")),
        cell=_s(cell) if cell else None,
        to=_s(to) if to else None,
    )


def read_entry(
    entry_id: bytes | str, fields: dict[bytes, bytes], source: str
) -> StreamEntry | BadEntry:
    """Decode an entry read from stream `source`, or say why it is unusable."""
    offset = _s(entry_id)
    try:
        entry = decode_entry(entry_id, fields)
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return BadEntry(offset, BadRecord(source, offset, "fields are not valid text or JSON"))
    problem = entry_problem(entry.kind, entry.body)
    if problem is not None:
        return BadEntry(offset, BadRecord(source, offset, problem))
    return entry


def _source(stream: str) -> str:
    """The metrics label of a stream key (events, canary, inbox): its name after the prefix."""
    return stream.rsplit("}:", 1)[-1].split(":", 1)[0]


class Store:
    """Async access to one Redis (or Redis Cluster) for all tenants.

    Writes whose success a client is told of (`submit_alert`, a unit's status
    and sector) go through `acks`, which waits for replicas when asked to
    (hub.store.replication); the others are plain calls.
    """

    def __init__(
        self,
        redis: RedisLike,
        *,
        stream_maxlen: int,
        idempotency_ttl_s: int,
        acks: ReplicaAcks | None = None,
    ) -> None:
        self.redis = redis
        self.scripts = ScriptSet(redis)
        self.acks = acks or ReplicaAcks(redis, AckPolicy(fixed=0))
        self.stream_maxlen = stream_maxlen
        self.idempotency_ttl_s = idempotency_ttl_s

    async def ping(self) -> bool:
        """True when Redis answers."""
        return bool(await self.redis.ping())

    async def submit_alert(
        self,
        keys: TenantKeys,
        *,
        citizen: str,
        ref: str,
        category: str,
        lat: float,
        lon: float,
        cell: str,
        text: str,
        accuracy_m: float | None,
        now_ms: int,
        candidates: Sequence[str],
        group_window_s: int,
        rate: tuple[int, float],
        ladder: list[tuple[int, float]],
        intake: Intake = APP,
        stats: Mapping[str, Any] | None = None,
    ) -> SubmitOutcome:
        """Store an alert and its incident event atomically (see submit_alert.lua).

        `stats` (the alert's stamp, `ttl_s`, `recurrence_ms`) makes the script count
        it in the tenant's aggregates; None counts nothing.
        """
        script_keys = [
            keys.seq,
            keys.idempotency(citizen, ref),
            keys.alert_rate(citizen),
            keys.events,
            keys.open_queue,
            keys.channel_rate(intake.channel),
            keys.open311_requests,
            keys.live,
            keys.published,
            *(keys.cell(c) for c in candidates),
        ]
        if stats:
            script_keys += [keys.stats_day(stats["day"]), keys.recurrence(stats["area"], category)]
        args: list[str | int | bytes] = [
            keys.prefix, citizen, ref, category, repr(lat), repr(lon), cell, text,
            "" if accuracy_m is None else repr(accuracy_m), now_ms, group_window_s * 1000,
            rate[0], int(rate[1] * 1000), self.idempotency_ttl_s, self.stream_maxlen,
            orjson.dumps(ladder), intake.rate[0], int(intake.rate[1] * 1000),
            intake.index_retention_ms, orjson.dumps(dict(intake.fields)),
            orjson.dumps(dict(stats or {})), len(candidates),
        ]  # fmt: skip
        result = await self.acks.run(self.scripts.submit_alert, script_keys, args, keys.ack_fence)
        kind = _s(result[0])
        if kind == "rate":
            return SubmitOutcome(
                "rate", retry_after_s=int(result[1]) / 1000, limited_by=_s(result[2])
            )
        if kind == "dup":
            return SubmitOutcome("dup", _s(result[1]), _s(result[2]), int(result[3] or 0))
        return SubmitOutcome(
            "ok", _s(result[1]), _s(result[2]), now_ms, _s(result[3]), orjson.loads(result[4])
        )

    async def unit_update(
        self,
        keys: TenantKeys,
        unit_id: str,
        change: str,
        fields: dict[str, str | int | float],
        *,
        throttle_ms: int = 0,
        sessions_delta: int = 0,
        acked: bool = False,
    ) -> str | None:
        """Save unit state and emit a `unit` event; None when the event was throttled.

        `acked`: the unit is told it was saved, so the write waits for replicas
        like every acked one (positions do not: the next one replaces them).
        """
        args: list[Any] = [keys.prefix, unit_id, change, self.stream_maxlen, throttle_ms]
        args.append(sessions_delta)
        for name, value in fields.items():
            args += [name, value]
        script_keys = [keys.unit(unit_id), keys.events, keys.units, keys.unit_throttle(unit_id)]
        if acked:
            result = await self.acks.run(
                self.scripts.unit_update, script_keys, args, keys.ack_fence
            )
        else:
            result = await self.scripts.unit_update(keys=script_keys, args=args)
        offset = _s(result)
        return offset or None

    async def unit_state(self, keys: TenantKeys, unit_id: str) -> dict[str, str]:
        """A unit's saved state (sector, position, status); empty if unknown."""
        raw = await self.redis.hgetall(keys.unit(unit_id))
        return {_s(k): _s(v) for k, v in raw.items()}

    async def snapshot(
        self, keys: TenantKeys, max_incidents: int = 500, max_offers: int = SNAPSHOT_MAX_OFFERS
    ) -> tuple[str, dict[str, Any], list[BadRecord]]:
        """(last event offset, snapshot message, live incidents skipped) read atomically.

        The message has the live incidents, the unit board and the pending `offers`
        (each the `assignment.state` message that made it); a deadline whose
        assignment is missing or not offered is left out, not reported: the deadline
        loop reports and removes it (a deadlines key of another type lists no offer,
        and the loop reports it). An incident has at most one pending offer: the
        offers are as many as the live incidents at most, capped like them.
        """
        last, body = await self.scripts.snapshot(
            keys=[keys.live, keys.units, keys.events, keys.deadlines],
            args=[keys.prefix, max_incidents, max_offers],
        )
        snap: dict[str, Any] = orjson.loads(body)
        bad = snap.pop("bad") if snap.pop("n_bad", 0) else []
        skipped = [BadRecord("incident", keys.incident(i), "missing or unusable") for i in bad]
        # Lua's cjson encodes empty tables as objects: restore the lists.
        if not snap.pop("n_incidents", 0):
            snap["incidents"] = []
        if not snap.pop("n_units", 0):
            snap["units"] = []
        if not snap.pop("n_offers", 0):
            snap["offers"] = []
        for unit in snap["units"]:
            if unit.get("sector") == {}:
                unit["sector"] = []
        snap.pop("bad", None)
        return _s(last), snap, skipped

    async def read_events(
        self, streams: dict[str, str], *, count: int = 500, block_ms: int = 1000
    ) -> list[tuple[str, list[StreamEntry | BadEntry]]]:
        """Blocking XREAD over tenant streams: [(stream key, entries)]."""
        raw: Any = await self.redis.xread(streams, count=count, block=block_ms)  # type: ignore[arg-type]
        return [
            (_s(key), [read_entry(i, f, _source(_s(key))) for i, f in entries])
            for key, entries in raw or []
        ]

    async def range_after(
        self, stream: str, after: str, count: int = 1000
    ) -> list[StreamEntry | BadEntry]:
        """Entries strictly after `after` ('0' or '0-0' for all), oldest first."""
        start = "-" if after in ("", "0", "0-0") else f"({after}"
        raw: Any = await self.redis.xrange(stream, min=start, max="+", count=count)
        source = _source(stream)
        return [read_entry(i, f, source) for i, f in raw]

    async def first_offset(self, stream: str) -> str | None:
        """The oldest retained entry's id, None when the stream is empty."""
        raw = await self.redis.xrange(stream, min="-", max="+", count=1)
        return _s(raw[0][0]) if raw else None

    async def last_offset(self, stream: str) -> str:
        """The newest entry's id, '0-0' when the stream is empty or missing."""
        raw = await self.redis.xrevrange(stream, max="+", min="-", count=1)
        return _s(raw[0][0]) if raw else "0-0"
