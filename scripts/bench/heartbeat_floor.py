"""The heartbeat's floor: idle connections kept alive by pings and nothing else.

What any server pays on this machine to keep N idle WebSocket connections
alive at the hub's period, whatever its language or design: one write system
call per ping and one read per pong, on the same loopback, woken by the same
timer. This server does exactly that and no more, so its CPU at rest is the
floor the hub's idle CPU is read against (the bare `websockets` server,
`bench.idle_baseline`, is the floor of a *Python WebSocket server*; this one
is below it).

It completes the opening handshake with websockets' sans-I/O `ServerProtocol`
(as the hub does), answers the idle clients' subscription (`sub` →
`{"type": "subscribed"}`, as the bare server does), then hands the connection
to the hub's own `HeartbeatWheel` (same buckets, same ticks) and reads
whatever arrives (pongs) into the void: no parser, no session, no check that
a ping was answered.
"""

from __future__ import annotations

import asyncio
from multiprocessing.connection import Connection
from typing import cast

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from bench.fanout import run_worker
from hub.server.heartbeat import PING_FRAME, HeartbeatWheel

__all__ = ["serve_floor"]

SUBSCRIBED = b'{"type": "subscribed"}'


def serve_floor(conn: Connection, ping_interval_s: float) -> None:
    """The floor server's process: sends ("listening", port) on `conn`, then serves."""
    run_worker(lambda: _serve(conn, ping_interval_s), conn, "heartbeat floor server")


async def _serve(conn: Connection, ping_interval_s: float) -> None:
    wheel = HeartbeatWheel(ping_interval_s)
    server = await asyncio.get_running_loop().create_server(
        lambda: _FloorConnection(wheel), "127.0.0.1", 0, backlog=4096
    )
    async with server:
        conn.send(("listening", server.sockets[0].getsockname()[1]))
        conn.close()
        await asyncio.Future()


class _FloorConnection(asyncio.Protocol):
    """Handshake and subscription through websockets, then pings only."""

    def __init__(self, wheel: HeartbeatWheel) -> None:
        self.wheel = wheel
        self.ws = ServerProtocol(max_size=2**16)
        self.transport: asyncio.Transport | None = None
        self.beating = False
        self.heartbeat_slot = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass

    def data_received(self, data: bytes) -> None:
        """Before the subscription, through websockets; after it, dropped unread."""
        if self.beating:
            return  # a pong (the clients send nothing else): read, never parsed
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self.ws.send_response(self.ws.accept(event))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.ws.send_text(SUBSCRIBED)
                self.beating = True
                self.wheel.add(self)
        for chunk in self.ws.data_to_send():
            if chunk and self.transport is not None:
                self.transport.write(chunk)

    def heartbeat(self) -> None:
        """The wheel's visit: the hub's ping frame, written straight to the socket."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(PING_FRAME)

    def connection_lost(self, exc: Exception | None) -> None:
        """Leave the wheel."""
        self.transport = None
        self.wheel.discard(self)
