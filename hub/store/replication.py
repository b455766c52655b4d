"""Acks that survive a failover: a write is acknowledged once replicas have it.

Redis replicates asynchronously, so a primary that dies right after a write
may take it with it: the replica that Sentinel promotes never saw it. `WAIT
numreplicas timeout` blocks a connection until that many replicas acknowledge
every write the connection sent before it.

Rule: while `ReplicaAcks.required` is above 0, every write whose success the
hub acknowledges to a client goes through `ReplicaAcks.run`. The writes that
arrive in one turn of the event loop are sent in one pipeline (one
connection), followed by a fence write and one ``WAIT required timeout``;
each caller gets its script's reply only if WAIT counted enough replicas, and
`NotReplicatedError` otherwise — the client is told `unavailable` and retries
with the same `ref`.

Why the fence: WAIT waits for the *connection's* last write. A retry that
finds its idempotency record (the first attempt was stored, but not confirmed)
writes nothing; without a write of its own in the pipeline, WAIT would wait
for whatever that pooled connection happened to write last (possibly nothing,
returning at once) and let through an ack whose write no replica has. The
fence comes after every script of the pipeline in the primary's replication
stream, so a replica that has it has them all (and the first attempt's write,
which the retry's script read).

With `required` 0 a write made while none of ours is in flight goes at once,
as a plain call (waiting for the turn to end would add two passes of the loop
to its latency: 0.6 ms at the median, up to 2.6 ms at p99, on a loop 35 %
busy), and the writes made while one is in flight go out in one pipeline per
turn, without the fence and the WAIT: one connection, one packed write and one
read of the replies for every `alert.submit` (and every acked lifecycle
command) of a busy turn, instead of one round trip each through redis-py's
per-call path (a pooled connection taken and given back, a timeout armed, a
write system call). A pipeline that would hold a single write is that write's
plain call (a pipeline of one costs more). The scripts are sent as ``EVALSHA`` by the digest
redis-py computed; a server that does not know a script (a restarted Redis, a
promoted replica) answers ``NOSCRIPT`` for it without running it, so those
writes are loaded and sent again once, in a pipeline of their own. On a Redis
Cluster a write without WAIT stays one call: redis-py refuses ``EVALSHA`` in a
cluster pipeline (its writes may span shards).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError
from redis.typing import EncodableT

from hub.store.client import RedisLike

__all__ = ["BATCH_MAX", "AckPolicy", "NotReplicatedError", "ReplicaAcks"]

log = logging.getLogger("vigie.replication")

BATCH_MAX = 256  # scripts per pipeline: a bigger tick is cut into several pipelines
FENCE_TTL_MS = 60_000  # the fence is only a write for WAIT to wait for; it need not stay
_ALONE = object()  # `_flush`'s answer to a lone write without WAIT: make the call yourself


class NotReplicatedError(RedisError):
    """WAIT timed out before enough replicas had the write: not acknowledged, retry."""


@dataclass(frozen=True, slots=True)
class AckPolicy:
    """How many replicas must have a write before it is acked.

    `fixed` None is the default ("auto"): 1 once the current primary has had a
    replica online, 0 while it never had one. A replica that drops out does
    not lower it (acks then wait until it is back: they never quietly stop
    being replicated); a new primary (a failover: another run id) starts from
    its own replicas, so a promoted replica without replicas of its own serves
    at once. A number is kept whatever the topology: with fewer replicas
    online, every acked write is refused `unavailable` until they are back.
    """

    fixed: int | None = None
    timeout_ms: int = 1000

    def required(self, replicas_seen: int) -> int:
        """The WAIT count for a primary that had at most `replicas_seen` replicas online."""
        if self.fixed is not None:
            return self.fixed
        return 1 if replicas_seen > 0 else 0


@dataclass(slots=True)
class _Write:
    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[EncodableT]
    fence: str
    reply: asyncio.Future[Any]


class ReplicaAcks:
    """Runs acked writes: plain calls, or batched pipelines closed by one WAIT."""

    def __init__(self, redis: RedisLike, policy: AckPolicy, batch_max: int = BATCH_MAX) -> None:
        self.redis = redis
        self.policy = policy
        self.batch_max = batch_max
        self.required = policy.fixed or 0  # until the first `refresh`
        self.replicas_online = 0
        self.replicas_seen = 0  # most replicas online at once since `primary` took over
        self.primary = ""  # the run id of the primary last read
        self.turns = 0  # turns of the event loop that sent writes, with or without a WAIT
        self.turn_writes = 0  # the writes they sent
        self.reloads = 0  # writes sent again after NOSCRIPT
        self.batches = 0  # pipelines sent with a WAIT
        self.writes = 0  # scripts sent in them
        self.timeouts = 0  # WAITs that counted fewer replicas than required
        self._pending: list[_Write] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self._suspect = asyncio.Event()  # a commit failed: the topology may have changed
        self._per_call = isinstance(redis, RedisCluster)  # no EVALSHA in its pipelines
        self._alone = 0  # plain calls `run` made at once, in flight

    async def wait_suspect(self, timeout_s: float) -> None:
        """Return when a commit failed (a failover?) or after `timeout_s`, whichever first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._suspect.wait(), timeout_s)
        self._suspect.clear()

    async def refresh(self) -> int:
        """Read the primary's identity and replicas (INFO) and set `required`; returns it."""
        server = await self.redis.info("server")
        info = await self.redis.info("replication")
        online = sum(
            1
            for key, value in info.items()
            if key.startswith("slave")
            and isinstance(value, dict)
            and value.get("state") == "online"
        )
        primary = str(server.get("run_id", ""))
        if primary != self.primary:  # start-up, or a failover: this primary's own count
            self.primary, self.replicas_seen = primary, 0
        self.replicas_seen = max(self.replicas_seen, online)
        required = self.policy.required(self.replicas_seen)
        if online != self.replicas_online or required != self.required:
            log.warning(
                "primary %s has %d replica(s) online: acks wait for %d",
                primary[:8], online, required,
            )  # fmt: skip
        self.replicas_online, self.required = online, required
        return required

    async def run(
        self,
        script: AsyncScript,
        keys: Sequence[str],
        args: Sequence[EncodableT],
        fence: str,
    ) -> Any:
        """Run `script` in this turn's pipeline; its reply once `required` replicas
        have the write (at once when `required` is 0).

        `fence` is a key of the caller's tenant (`TenantKeys.ack_fence`).

        Raises:
            NotReplicatedError: WAIT counted fewer replicas (the write may be on
                the primary: a retry with the same ref returns its reply).
            RedisError: As a plain call would (connection lost, script error).
        """
        if self.required <= 0 and self._per_call:
            return await script(keys=keys, args=args)
        loop = asyncio.get_running_loop()
        if self.required <= 0 and not (self._pending or self._flushing or self._alone):
            # Nothing of ours in flight (as Nagle's rule for TCP): the write goes at once,
            # as a plain call; waiting for the turn to end would cost it two passes of the
            # loop, with nothing to share the pipeline with at a town's rates. While one
            # is in flight, writes join the turn's pipeline (a busy hub batches).
            self._alone += 1
            self.turns += 1
            self.turn_writes += 1
            try:
                return await script(keys=keys, args=args)
            finally:
                self._alone -= 1
        write = _Write(script, keys, args, fence, loop.create_future())
        if not self._pending:
            loop.call_soon(self._flush)  # after every task that is ready in this turn
        self._pending.append(write)
        if len(self._pending) >= self.batch_max:
            self._flush()
        reply = await write.reply
        if reply is _ALONE:
            return await script(keys=keys, args=args)
        return reply

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.turns += 1
        self.turn_writes += len(batch)
        if self.required <= 0 and len(batch) == 1:
            # A lone write without WAIT: a pipeline (and a task to send it) only costs
            # more than the plain call its caller makes itself.
            if not batch[0].reply.done():
                batch[0].reply.set_result(_ALONE)
            return
        task = asyncio.get_running_loop().create_task(self._commit(batch), name="replica-acks")
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _commit(self, batch: list[_Write], reloaded: bool = False) -> None:
        required, timeout_ms = self.required, self.policy.timeout_ms
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for write in batch:
                    pipe.evalsha(write.script.sha, len(write.keys), *write.keys, *write.args)
                if required > 0:
                    pipe.set(batch[0].fence, b"1", px=FENCE_TTL_MS)
                    pipe.wait(required, timeout_ms)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the whole pipeline failed: every caller hears it
            self._suspect.set()
            _fail(batch, exc)
            return
        unknown = [w for w, r in zip(batch, replies, strict=False) if isinstance(r, NoScriptError)]
        if unknown and not reloaded:  # not run: load the scripts, send those writes again
            await self._reload(unknown)  # (their own pipeline, fence and WAIT)
        if required > 0:
            self.batches += 1
            self.writes += len(batch)
            counted = replies[-1]
            if isinstance(counted, Exception) or int(counted) < required:
                self.timeouts += 1
                self._suspect.set()
                why = f"{counted} of {required} replicas had the write after {timeout_ms} ms"
                _fail(batch, NotReplicatedError(why))
                return
        for write, reply in zip(batch, replies, strict=False):
            if write.reply.done():  # the caller gave up (its session closed)
                continue
            if isinstance(reply, Exception):  # this script alone failed (a script error)
                write.reply.set_exception(reply)
            else:
                write.reply.set_result(reply)

    async def _reload(self, writes: list[_Write]) -> None:
        """Load the scripts the server lacked, then commit `writes` once more."""
        self.reloads += len(writes)
        try:
            for script in {id(w.script): w.script for w in writes}.values():
                script.sha = await self.redis.script_load(script.script)
        except Exception as exc:
            _fail(writes, exc)
            return
        await self._commit(writes, reloaded=True)


def _fail(batch: list[_Write], error: BaseException) -> None:
    """Every caller of the batch gets `error` (a caller that gave up is skipped)."""
    for write in batch:
        if not write.reply.done():
            write.reply.set_exception(error)
