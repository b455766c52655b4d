"""The replica watch: how many replicas an ack waits for, kept true through failovers.

`ack_replicas = "auto"` means "1 while the primary has a replica online". The
primary changes on a failover, and the promoted replica may have no replica of
its own: the watch re-reads INFO replication every `REPLICA_CHECK_S`, and at
once when an acked write failed (hub.store.replication), so that the hub
writes again as soon as the new primary can take writes. A fixed number is
not changed by the watch; it only reports the replicas online (/healthz).
With Sentinel, each turn also asks the Sentinels where the primary is, so a
planned failover, whose old primary stays up and answers, is followed at once.
"""

from __future__ import annotations

from hub.core.supervision import LoopHealth
from hub.server.node import Node
from hub.server.supervision import after_fault
from hub.store.client import SentinelClient

__all__ = ["REPLICA_CHECK_S", "watch_replicas"]

REPLICA_CHECK_S = 5.0
# During an outage the watch retries at this pace at least (an outage's backoff
# would reach 2 s): the hub's first write on the new primary waits for it.
REPLICA_RETRY_S = 0.5


async def watch_replicas(node: Node) -> None:
    """Keep `node.store.acks.required` true to the primary's replicas, for ever."""
    acks = node.store.acks
    health = LoopHealth.default()
    while True:
        try:
            if isinstance(acks.redis, SentinelClient):
                await acks.redis.follow_primary()
            await acks.refresh()
        except Exception as exc:
            await after_fault(node.metrics, "replicas", "", health, exc, REPLICA_RETRY_S)
            continue
        health.ok()
        await acks.wait_suspect(REPLICA_CHECK_S)
