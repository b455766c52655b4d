"""Run a hub inside the current event loop (the demo and the tests use it).

`vigie serve` runs uvicorn as a program; this runs the same app with the same
transport settings as an asyncio task, on a given or a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from hub.config import Config
from hub.server.app import create_app
from hub.server.node import Node
from hub.server.transport import uvicorn_options
from hub.server.uvserver import HubServer

__all__ = ["RunningHub", "running_hub"]


@dataclass(frozen=True, slots=True)
class RunningHub:
    """A hub serving in this event loop."""

    app: Starlette
    server: uvicorn.Server
    host: str
    port: int

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        """The HTTP base URL (healthz, metrics, api)."""
        return f"http://{self.host}:{self.port}"

    @property
    def node(self) -> Node:
        """The process's node (sessions, metrics)."""
        node: Node = self.app.state.node
        return node


@contextlib.asynccontextmanager
async def running_hub(
    config: Config,
    redis_url: str,
    secret: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    node_id: str | None = None,
    dev: bool = False,
    ws: str | None = None,
) -> AsyncIterator[RunningHub]:
    """Serve a hub until the context exits.

    Port 0 picks a free port; `dev` adds the sign-in page; `ws` names the
    WebSocket layer (`hub` or `uvicorn`, default from transport.py).
    """
    app = create_app(config, redis_url, secret, node_id, dev=dev)
    options = uvicorn_options(config.hub.max_frame_bytes, config.hub.heartbeat_s, ws)
    options.pop("loop")  # we are already inside a loop
    server = HubServer(
        uvicorn.Config(app, host=host, port=port, log_level="warning", **options)  # type: ignore[arg-type]
    )
    task = asyncio.create_task(server.serve(), name="uvicorn")
    while not server.started:
        if task.done():
            await task  # surfaces the start-up error
            raise RuntimeError("hub server stopped during start-up")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningHub(app, server, host, int(bound))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
