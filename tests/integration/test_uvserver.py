"""hub.server.uvserver: uvicorn's server at one tick a second; an exit does not wait for it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest
import uvicorn

from hub.server import uvserver
from hub.server.uvserver import HubServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def server_on_free_port(cls: type[HubServer] = HubServer) -> HubServer:
    config = uvicorn.Config(hello, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    return cls(config)


async def started(server: HubServer) -> asyncio.Task[None]:
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server stopped during start-up"
        await asyncio.sleep(0.01)
    return task


async def get(server: HubServer) -> bytes:
    port = server.servers[0].sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    body = await reader.read()
    writer.close()
    return body


async def test_an_exit_request_wakes_the_main_loop_at_once() -> None:
    server = server_on_free_port()
    task = await started(server)
    assert b"\r\nok\r\n" in await get(server)
    await asyncio.sleep(0.05)  # the main loop is now asleep in its one-second tick
    server.should_exit = True
    # Far under the tick: the setter woke the loop, it did not wait out the second.
    await asyncio.wait_for(task, uvserver.TICK_S / 2)
    assert server.should_exit


async def test_an_exit_requested_before_the_main_loop_sleeps_is_not_missed() -> None:
    server = server_on_free_port()
    task = await started(server)
    server.should_exit = True
    server.should_exit = True  # twice: still one clean shutdown
    await asyncio.wait_for(task, uvserver.TICK_S / 2)


async def test_every_tick_refreshes_the_date_header(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn refreshes `Date` on ticks whose counter is a multiple of 10: each of ours is."""
    monkeypatch.setattr(uvserver, "TICK_S", 0.01)
    counters: list[int] = []
    five = asyncio.Event()

    class Counting(HubServer):
        async def on_tick(self, counter: int) -> bool:
            counters.append(counter)
            if len(counters) >= 5:
                five.set()
            return await super().on_tick(counter)

    server = server_on_free_port(Counting)
    task = await started(server)
    await asyncio.wait_for(five.wait(), 5)
    server.should_exit = True
    await asyncio.wait_for(task, 5)
    assert counters[:5] == [0, 10, 20, 30, 40]
    assert all(c % 10 == 0 for c in counters)


async def failing_start(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no Redis"})


def test_serve_exits_with_uvicorns_start_up_failure() -> None:
    """As under uvicorn.run: a server that could not start exits with status 3."""
    failing = uvicorn.Config(
        failing_start, host="127.0.0.1", port=0, lifespan="on", log_level="critical"
    )
    with socket.socket() as taken:  # and a port already taken
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = uvicorn.Config(
            hello, host="127.0.0.1", port=port, lifespan="off", log_level="critical"
        )
        for config in (failing, busy):
            with pytest.raises(SystemExit) as exited:
                uvserver.serve(config)
            assert exited.value.code == uvserver.STARTUP_FAILURE
