"""When this process cannot go on: close every session with 1011, then exit non-zero.

A process whose stream follower or timers died would otherwise keep its
sessions open with nothing flowing to them (uvicorn goes on serving when a
lifespan fails after start-up: it only logs it). Closed with 1011, clients
reconnect, to another process or to this one once its supervisor restarted it,
and resume from their offsets: nothing acked is lost.

Exit path: uvicorn's own SIGTERM handling (stop accepting, finish the
connections, then re-raise the signal), so `vigie serve` still unwinds its
embedded redis-server; `vigie serve` then exits with `EXIT_LOOP_FAILED`, a
worker of `--workers N` dies by the re-raised SIGTERM and uvicorn's supervisor
starts a new one. A watchdog ends the process with `os._exit` if that
graceful path has not within `EXIT_GRACE_S`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

from hub.core.errors import CloseCode
from hub.server.node import Node

__all__ = ["CLOSE_WAIT_S", "EXIT_GRACE_S", "exit_status", "give_up", "request_exit"]

log = logging.getLogger("vigie.failure")

CLOSE_WAIT_S = 2.0  # for the close frames to go out before the process stops
EXIT_GRACE_S = 20.0  # uvicorn's graceful shutdown (10 s) and a margin

_status = 0  # this process's exit status: one process, one value


def exit_status() -> int:
    """The status the process should exit with (0 unless `request_exit` was called)."""
    return _status


async def give_up(node: Node, reason: str) -> int:
    """Stop serving: refuse new sessions, close every session with 1011; returns how many."""
    node.failed = reason
    sessions = list(node.sessions.values())
    log.critical("this process cannot go on (%s): closing %d sessions", reason, len(sessions))
    for session in sessions:
        session.close(CloseCode.INTERNAL_ERROR, "hub process failed: reconnect and resume")
    if sessions:  # the close frames must go out before the process stops
        waits = [asyncio.ensure_future(s.wait_close_sent(CLOSE_WAIT_S)) for s in sessions]
        await asyncio.wait(waits, timeout=CLOSE_WAIT_S)
    return len(sessions)


def request_exit(status: int) -> None:
    """Make the process exit with `status` (see the module docstring for the path)."""
    global _status
    _status = status
    watchdog = threading.Timer(EXIT_GRACE_S, os._exit, (status,))
    watchdog.daemon = True
    watchdog.start()
    log.critical("exiting with status %d", status)
    signal.raise_signal(signal.SIGTERM)
