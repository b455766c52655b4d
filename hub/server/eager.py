"""Run a coroutine synchronously until it first suspends (Python 3.12's eager tasks, for 3.11).

Sending a frame to a writable WebSocket never really waits: uvicorn's `send`
checks the transport is writable, frames the message and writes it. Wrapping
every such send in a Task (the fan-out sends one event to hundreds of
sessions) costs more than the send. `run_until_suspended` runs the coroutine
inline; only when it does suspend (the client is not reading fast enough) is
the rest handed over, as a coroutine, to be awaited in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_until_suspended"]

T = TypeVar("T")


def run_until_suspended(coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T] | None:
    """Step `coro` until it finishes (returns None) or suspends (returns its continuation).

    Exceptions raised before the first suspension propagate to the caller.
    The continuation must be awaited (in a task) to finish the coroutine.
    """
    try:
        awaited = coro.send(None)
    except StopIteration:
        return None
    return _continue(coro, awaited)


async def _continue(coro: Coroutine[Any, Any, T], awaited: Any) -> T:
    """Finish a coroutine that suspended outside a task, exactly as a Task would."""
    while True:
        if awaited is None:  # a bare `yield`: asyncio.sleep(0)
            await asyncio.sleep(0)
        else:
            awaited._asyncio_future_blocking = False
            try:
                await asyncio.wait((awaited,))  # done, whatever its outcome
            except asyncio.CancelledError:
                awaited.cancel()  # as Task.cancel() does: the coroutine sees it on resume
        try:
            awaited = coro.send(None)
        except StopIteration as stop:
            result: T = stop.value
            return result
