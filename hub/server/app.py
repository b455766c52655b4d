"""The Starlette application: routes, and the resources its lifespan owns.

Every background loop (stream followers, canaries, timers) belongs to a
TaskGroup owned by the lifespan, so a failing loop is seen rather than dying
silently: a loop that cannot go on (hub.core.supervision) ends the group, and
the lifespan then closes every session with 1011 and, under `vigie serve`,
makes the process exit non-zero (hub.server.failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from hub.config import Config, load_config
from hub.core.supervision import EXIT_LOOP_FAILED
from hub.server.admission import Admission
from hub.server.api import erase_citizen, get_incident
from hub.server.drain import install_drain_on_sigterm
from hub.server.endpoint import websocket_endpoint
from hub.server.failure import give_up, request_exit
from hub.server.heartbeat import HeartbeatWheel
from hub.server.interop import interop_routes
from hub.server.jwks import KeySource, verifier_for
from hub.server.node import Node
from hub.server.open311 import open311_mount
from hub.server.replicas import watch_replicas
from hub.server.stats import get_stats
from hub.server.supervision import must_not_end
from hub.server.timers import run_timers
from hub.server.web import SecurityHeaders, content_security_policy, web_routes
from hub.server.websocket import STATE_KEY, WebSocketLayer
from hub.store.client import CLUSTER_SCHEMES, RedisLike, redis_client
from hub.store.replication import AckPolicy, ReplicaAcks
from hub.store.store import Store

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("vigie.app")

REDIS_TIMEOUT_S = 5.0  # every Redis call is bounded; XREAD blocks for less than this


def _redis(url: str) -> RedisLike:
    return redis_client(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=10,
        max_connections=256,
    )


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Keep the cyclic GC off the latency tail.

    With thousands of sessions, a full collection walks hundreds of MB of
    objects and stalls every session for tens of ms. Objects alive at start-up
    (modules, config, the tenant areas) are frozen out of collection, and
    collections are made rarer; the hub's own objects rarely form cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


STOP_TRIES = 50


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel background loops, insisting: redis-py sometimes swallows a cancellation.

    A command cancelled inside redis-py's send may return normally, so a loop
    that catches only Redis errors runs on and the lifespan would never end.
    Cancelling again until every task is done (bounded) makes shutdown certain.
    """
    for _ in range(STOP_TRIES):
        pending = [t for t in tasks if not t.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.1)
    log.error("background tasks still running at shutdown: %s", [t.get_name() for t in tasks])


async def _start_replica_watch(
    node: Node, redis_url: str, tasks: asyncio.TaskGroup
) -> list[asyncio.Task[None]]:
    """Read the primary's replicas, then watch them (not on a Redis Cluster: no WAIT there)."""
    acks = node.store.acks
    if redis_url.partition("://")[0].lower() in CLUSTER_SCHEMES:
        if acks.policy.fixed:
            raise RuntimeError("hub.ack_replicas > 0 is not supported on a Redis Cluster")
        acks.policy = AckPolicy(0, acks.policy.timeout_ms)
        return []
    required = await acks.refresh()
    log.info("acks wait for %d replica(s) (%d online)", required, acks.replicas_online)
    watch = must_not_end("replicas", watch_replicas(node))
    return [tasks.create_task(watch, name="replicas")]


def _reason(exc: BaseException) -> str:
    """The first leaf of a task group's failure, for the log and /healthz."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


def create_app(
    config: Config,
    redis_url: str,
    secret: str,
    node_id: str | None = None,
    *,
    drain_on_sigterm: bool = False,
    exit_on_failure: bool = False,
    dev: bool = False,
) -> Starlette:
    """Build the hub's ASGI app for one process.

    `drain_on_sigterm` (for `vigie serve`, not for hubs embedded in tests) makes
    SIGTERM drain outboxes and close sessions with 1012 before uvicorn exits.
    `exit_on_failure` (for `vigie serve` too) makes the process exit with
    EXIT_LOOP_FAILED when a background loop cannot go on; without it, the
    sessions are closed with 1011 and new ones refused, but the server stays up.
    `dev` (`vigie serve --dev`, the demo) adds the sign-in page that mints tokens.
    """
    node_id = node_id or f"{socket.gethostname()}:{os.getpid()}"

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        redis = _redis(redis_url)
        acks = ReplicaAcks(redis, AckPolicy(config.hub.ack_replicas, config.hub.ack_timeout_ms))
        store = Store(
            redis,
            stream_maxlen=config.hub.stream_maxlen,
            idempotency_ttl_s=config.hub.idempotency_ttl_s,
            acks=acks,
        )
        node = Node(config, store, node_id)
        app.state.node, app.state.secret = node, secret
        keys = KeySource(verifier_for(config.auth, secret), config.auth)
        app.state.keys = keys
        if config.auth.jwks:
            await keys.refresh()  # a failure is logged and retried: HS256 tokens still work
        tune_gc()
        app.state.admission = Admission(config.hub)
        if config.hub.limits_off:
            log.warning("VIGIE_LIMITS=off: EVERY ABUSE LIMIT IS OFF (load testing only)")
        serving = False  # a failure before is a start-up failure: uvicorn's to report
        try:
            async with asyncio.TaskGroup() as tasks:
                loops = await node.start_followers(tasks)
                loops += await run_timers(node, tasks)
                loops += await _start_replica_watch(node, redis_url, tasks)
                if config.auth.jwks:
                    loops.append(tasks.create_task(keys.run(), name="jwks"))
                node.redis_ok = True
                uninstall = install_drain_on_sigterm(node) if drain_on_sigterm else None
                serving = True
                # The hub's own WebSocket layer (`--ws hub`) finds its shared parts here.
                wheel = HeartbeatWheel(config.hub.heartbeat_s)
                layer = WebSocketLayer(node, app.state.admission, keys, wheel)
                try:
                    yield {STATE_KEY: layer}
                finally:
                    wheel.stop()
                    if uninstall is not None:
                        uninstall()
                    node.cancel_background()
                    await stop_tasks(loops)
        except Exception as exc:  # a loop cannot go on: no session may stay on a dead feed
            if serving:
                await give_up(node, _reason(exc))
                if exit_on_failure:
                    request_exit(EXIT_LOOP_FAILED)
            raise
        finally:
            await redis.aclose()

    return Starlette(
        routes=[
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
            Route("/api/v1/incidents/{incident}", get_incident),
            Route("/api/v1/stats", get_stats),
            Route("/api/v1/citizens/{citizen}/erase", erase_citizen, methods=["POST"]),
            open311_mount(config),
            *interop_routes(),
            *web_routes(dev=dev),
        ],
        middleware=[Middleware(SecurityHeaders, csp=content_security_policy(config))],
        lifespan=lifespan,
    )


async def healthz(request: Request) -> Response:
    """200 when Redis answers and every stream follower is alive, else 503."""
    node: Node = request.app.state.node
    try:
        redis_ok = await asyncio.wait_for(node.store.ping(), 2.0)
    except (RedisError, OSError, TimeoutError):
        redis_ok = False
    streams_ok = node.feeds_alive()
    loops_ok = node.failed is None
    acks = node.store.acks
    # A fixed ack_replicas above the replicas online: no write can be acked.
    acks_ok = acks.replicas_online >= acks.required
    healthy = redis_ok and streams_ok and loops_ok and acks_ok
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unhealthy",
        "redis": redis_ok,
        "streams": streams_ok,
        "loops": loops_ok,
        "replicas": {"online": acks.replicas_online, "acks_wait_for": acks.required},
        "node": node.node_id,
        "sessions": dict(node.metrics.sessions),
        "canary_lag_ms": {t: round(rt.canary_lag_ms, 1) for t, rt in node.tenants.items()},
        "draining": node.draining,
    }
    if request.app.state.keys.auth.jwks:
        body["jwks"] = request.app.state.keys.health()
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    node: Node = request.app.state.node
    extra = {f'canary_lag_ms{{tenant="{t}"}}': rt.canary_lag_ms for t, rt in node.tenants.items()}
    extra["connections_refused_total"] = request.app.state.admission.refused
    acks = node.store.acks
    extra["replicas_online"] = acks.replicas_online
    extra["ack_replicas_required"] = acks.required
    counters = {"ack_waits": acks.batches, "ack_waited_writes": acks.writes,
                "ack_wait_timeouts": acks.timeouts, "write_turns": acks.turns,
                "write_turn_writes": acks.turn_writes, "script_reloads": acks.reloads}  # fmt: skip
    return PlainTextResponse(node.metrics.render(extra, counters))


def app_from_env() -> Starlette:
    """App factory for `uvicorn --factory` and `--workers N` (config from VIGIE_* env)."""
    secret = os.environ.get("VIGIE_SECRET")
    if not secret:
        # A per-process random secret would make each worker refuse the others' tokens.
        raise RuntimeError("VIGIE_SECRET is not set (vigie serve sets it for its workers)")
    redis_url = os.environ.get("VIGIE_REDIS_URL", "redis://127.0.0.1:6379/0")
    dev = os.environ.get("VIGIE_DEV") == "1"
    return create_app(
        load_config(), redis_url, secret, drain_on_sigterm=True, exit_on_failure=True, dev=dev
    )
