"""Graceful shutdown: stop admitting, drain every outbox, close with 1012, then exit.

uvicorn's own SIGTERM handling closes WebSockets at once with 1012 and drops
what their outboxes still hold. Nothing is lost that way (durable messages are
replayed on resume), but a deploy should not turn into a replay storm: we
first drain, then let uvicorn finish. The handler wraps uvicorn's and calls it
when the drain is done.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from hub.core.errors import CloseCode
from hub.server.node import Node

__all__ = ["DRAIN_TIMEOUT_S", "drain", "install_drain_on_sigterm"]

log = logging.getLogger("vigie.drain")

DRAIN_TIMEOUT_S = 5.0

SignalHandler = Callable[[int, FrameType | None], Any] | int | None


async def drain(node: Node, timeout_s: float = DRAIN_TIMEOUT_S) -> int:
    """Flush every session's outbox, then close it with 1012; returns sessions closed."""
    node.draining = True
    sessions = list(node.sessions.values())
    if sessions:
        await asyncio.wait(
            [asyncio.ensure_future(s.flush(timeout_s)) for s in sessions], timeout=timeout_s
        )
    for session in sessions:
        session.close(CloseCode.SERVICE_RESTART, "hub restarting: reconnect and resume")
    await asyncio.sleep(0)  # let the close frames go out
    log.info("drained %d sessions", len(sessions))
    return len(sessions)


def install_drain_on_sigterm(node: Node) -> Callable[[], None]:
    """Route SIGTERM through `drain` before uvicorn's handler; returns an uninstaller."""
    loop = asyncio.get_running_loop()
    previous: SignalHandler = signal.getsignal(signal.SIGTERM)

    def then_previous(signum: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(0)

    async def drain_then_exit() -> None:
        try:
            await drain(node)
        finally:
            then_previous(signal.SIGTERM, None)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if node.draining:  # a second SIGTERM: stop waiting
            then_previous(signum, frame)
            return
        loop.call_soon_threadsafe(lambda: node.background(drain_then_exit(), "drain"))

    signal.signal(signal.SIGTERM, on_sigterm)

    def uninstall() -> None:
        signal.signal(signal.SIGTERM, previous)

    return uninstall
