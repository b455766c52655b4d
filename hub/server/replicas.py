"""The replica watch: how many replicas an ack waits for, kept true through failovers.

`ack_replicas = "auto"` means "1 while the primary has a replica online". The
primary changes on a failover, and the promoted replica may have no replica of
its own: the watch re-reads INFO replication every `REPLICA_CHECK_S`, and at
once when an acked write failed (hub.store.replication), so that the hub
writes again as soon as the new primary can take writes. A fixed number is
not changed by the watch; it only reports the replicas online (/healthz).
"""

from __future__ import annotations

from hub.core.supervision import LoopHealth
from hub.server.node import Node
from hub.server.supervision import after_fault

__all__ = ["REPLICA_CHECK_S", "watch_replicas"]

REPLICA_CHECK_S = 5.0


async def watch_replicas(node: Node) -> None:
    """Keep `node.store.acks.required` true to the primary's replicas, for ever."""
    acks = node.store.acks
    health = LoopHealth.default()
    while True:
        try:
            await acks.refresh()
        except Exception as exc:
            await after_fault(node.metrics, "replicas", "", health, exc, REPLICA_CHECK_S)
            continue
        health.ok()
        await acks.wait_suspect(REPLICA_CHECK_S)
