"""The uvicorn settings that implement the protocol's transport rules.

Shared by `vigie serve` (uvicorn as a program) and `running_hub` (uvicorn as a
task in the caller's event loop), so both serve with the same limits.
"""

from __future__ import annotations

import os
import sys

__all__ = ["WS_LAYERS", "default_ws_layer", "uvicorn_options"]

# The WebSocket layers `vigie serve --ws` offers: the hub's own protocol
# without ASGI (hub.server.websocket, the default), whose heartbeat is the
# process's one wheel (hub.server.heartbeat), or uvicorn's websockets-sansio
# protocol under the ASGI endpoint (hub.server.endpoint), kept as a fallback.
WS_LAYERS = ("hub", "uvicorn")
HUB_WS = "hub.server.websocket:HubWebSocketProtocol"


def default_ws_layer() -> str:
    """The layer `VIGIE_WS` names, else the hub's own."""
    chosen = os.environ.get("VIGIE_WS", "hub")
    return chosen if chosen in WS_LAYERS else "hub"


def uvicorn_options(
    max_frame_bytes: int, heartbeat_s: float, ws: str | None = None
) -> dict[str, object]:
    """uvicorn settings that implement the protocol's transport rules."""
    own = (ws or default_ws_layer()) == "hub"
    return {
        # Request heads bounded in time as well as size (slowloris): hub.server.http.
        "http": "hub.server.http:HubHttpProtocol",
        "ws": HUB_WS if own else "websockets-sansio",
        "ws_max_size": max_frame_bytes,  # over it: close 1009
        "ws_ping_interval": None if own else heartbeat_s,  # the hub's layer: its own wheel
        "ws_ping_timeout": None if own else heartbeat_s,  # silent for two heartbeats → dropped
        "ws_per_message_deflate": False,  # small frames: compression costs more than it saves
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
