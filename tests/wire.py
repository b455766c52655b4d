"""A raw protocol peer for tests: real WebSocket, real codec, no client library magic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgpack
import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from hub.core.tokens import issue_token

SECRET = "test-secret-0123456789abcdef0123456789abcdef"
TIMEOUT = 5.0


class Peer:
    """One connected client speaking JSON or msgpack."""

    def __init__(self, ws: ClientConnection, codec: str) -> None:
        self.ws = ws
        self.codec = codec
        self.seen: list[dict[str, Any]] = []
        # Messages received while waiting for something else (a reply, another type):
        # kept, in order, for the next `expect`, since events may overtake replies.
        self.backlog: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        if self.codec == "msgpack":
            await self.ws.send(msgpack.packb(message, use_bin_type=True))
        else:
            await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        message: dict[str, Any] = (
            msgpack.unpackb(frame) if isinstance(frame, bytes) else orjson.loads(frame)
        )
        self.seen.append(message)
        return message

    async def expect(
        self,
        msg_type: str,
        timeout: float = TIMEOUT,
        where: Callable[[dict[str, Any]], bool] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """The first message of `msg_type` with `fields` (and `where`), received or backlogged."""

        def matches(message: dict[str, Any]) -> bool:
            return (
                message.get("type") == msg_type
                and all(message.get(k) == v for k, v in fields.items())
                and (where is None or where(message))
            )

        for i, message in enumerate(self.backlog):
            if matches(message):
                return self.backlog.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if matches(message):
                return message
            self.backlog.append(message)

    async def nothing(self, within: float = 0.3) -> None:
        """Assert that no message arrives within `within` seconds."""
        try:
            message = await self.recv(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

    async def collect(self, within: float) -> list[dict[str, Any]]:
        """Every message that arrives within `within` seconds."""
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (left := deadline - loop.time()) > 0:
            try:
                out.append(await self.recv(left))
            except TimeoutError:
                break
        return out

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a message with a ref and return the reply carrying that ref."""
        await self.send(message)
        ref = message["ref"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            reply = await self.recv(max(0.01, deadline - loop.time()))
            if reply.get("ref") == ref:
                return reply
            self.backlog.append(reply)

    async def close(self) -> None:
        await self.ws.close()


def token(role: str, sub: str, tenant: str = "narbonne", ttl_s: int = 3600) -> str:
    return issue_token(SECRET, sub=sub, role=role, tenant=tenant, ttl_s=ttl_s)


async def open_peer(url: str, codec: str = "json", subprotocols: list[str] | None = None) -> Peer:
    if subprotocols is None:
        subprotocols = [f"vigie.v1.{codec}"]
    ws = await websockets.connect(url, subprotocols=subprotocols, max_size=None)  # type: ignore[arg-type]
    return Peer(ws, codec)


async def connect(
    url: str,
    role: str,
    sub: str,
    *,
    codec: str = "json",
    tenant: str = "narbonne",
    resume: dict[str, str] | None = None,
) -> tuple[Peer, dict[str, Any]]:
    """Connect, say hello, and return (peer, welcome)."""
    peer = await open_peer(url, codec)
    hello: dict[str, Any] = {"type": "hello", "token": token(role, sub, tenant)}
    if resume:
        hello["resume"] = resume
    await peer.send(hello)
    welcome = await peer.expect("welcome")
    return peer, welcome
