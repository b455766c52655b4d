"""The uvicorn server the hub runs in: the same server, waking once a second at rest.

uvicorn's main loop sleeps 0.1 s between ticks to refresh the `Date` header
(once a second) and to notice `should_exit`. On the VMs this project is
measured on, a wakeup of an otherwise idle process costs 34 to 196 µs of CPU, so
those ten ticks a second were most of what a hub with no traffic spends: 0.35 %
of a core with no session, against 0.15 % with one tick a second (hub alone,
`/proc/<pid>/schedstat` over 30 s; docs/performance.md, eighth step).
`HubServer` ticks once a second, which keeps the header's one-second
resolution (on whole seconds of the loop's clock, with the other periodic
timers: hub.server.beats), and wakes at once when asked to exit (a signal, `running_hub`'s
exit, a failed background loop), so shutdown is not slower.

With `--workers` above 1, uvicorn's supervisor builds a plain `uvicorn.Server` in
each spawned worker (it names the class itself), so workers keep the 0.1-s tick.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from hub.server.beats import next_beat

__all__ = ["TICK_S", "HubServer", "serve"]

TICK_S = 1.0  # uvicorn refreshes the Date header when `counter % 10 == 0`: one tick is ten


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class HubServer(uvicorn.Server):
    """uvicorn's `Server` with one tick a second; exit requests wake it at once."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        """Whether the server is to shut down (uvicorn's flag, read by its loops)."""
        return self._exit_requested

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit_requested = value
        if value and self._loop is not None and not self._loop.is_closed():
            # Set from a signal handler too, between any two bytecodes of the loop's
            # code: call_soon_threadsafe is the loop's one entry point safe there.
            self._loop.call_soon_threadsafe(self._wake)

    async def main_loop(self) -> None:
        """uvicorn's main loop at one tick a second."""
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000
            await self._sleep(TICK_S)
            should_exit = await self.on_tick(counter)

    async def _sleep(self, seconds: float) -> None:
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiter = waiter
        # On a whole second of the loop's clock, with the other periodic timers.
        timer = self._loop.call_at(next_beat(self._loop.time(), seconds), _release, waiter)
        try:
            if not self._exit_requested:
                await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None:
            _release(self._waiter)


def serve(config: uvicorn.Config) -> int:
    """Run `config` as `uvicorn.run` would (one process, or `config.workers` under
    uvicorn's supervisor); 0, or uvicorn's start-up failure status."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = HubServer(config)
    # uvicorn re-raises the Ctrl-C it shut down on; uvicorn.run swallows it, so do we.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE
