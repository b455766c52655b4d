"""The uvicorn settings that implement the protocol's transport rules.

Shared by `vigie serve` (uvicorn as a program) and `running_hub` (uvicorn as a
task in the caller's event loop), so both serve with the same limits.
"""

from __future__ import annotations

import sys

__all__ = ["uvicorn_options"]


def uvicorn_options(max_frame_bytes: int, heartbeat_s: float) -> dict[str, object]:
    """uvicorn settings that implement the protocol's transport rules."""
    return {
        "ws": "websockets-sansio",
        "ws_max_size": max_frame_bytes,  # over it: close 1009
        "ws_ping_interval": heartbeat_s,
        "ws_ping_timeout": heartbeat_s,  # silent for two heartbeats → dropped
        "ws_per_message_deflate": False,  # small frames: compression costs more than it saves
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
