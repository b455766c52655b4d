"""The `/ws` endpoint under ASGI (`--ws uvicorn`): handshake, hello, then one message at a time.

The default layer is the hub's own (hub.server.websocket); both take the same
decisions from the session protocol (hub.core.session).

The session's reader is this coroutine; its writer is the session's own
on-demand task. A malformed or forbidden message gets an `error` and the
session stays open; only a bad hello (4400), a bad token (4401), a frame over
64 KiB (1009, enforced by the server), a flood (4429) or a slow outbox (4408)
close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.core.codec import Codec, choose_codec
from hub.core.errors import CloseCode
from hub.core.session import FLOOD_CLOSE_AFTER, Close, Opening, Refused
from hub.server import commands as _commands  # noqa: F401  (registers console handlers)
from hub.server import conversation as _conversation  # noqa: F401  (registers its handlers)
from hub.server import field as _field  # noqa: F401  (registers unit/citizen lifecycle handlers)
from hub.server import handlers as _handlers  # noqa: F401  (registers handlers)
from hub.server import neighbours as _neighbours  # noqa: F401  (registers its handlers)
from hub.server.dispatch import handle
from hub.server.lifecycle import authenticate, opening, session_closed, session_opened
from hub.server.node import Node
from hub.server.session import Session, new_protocol

__all__ = ["FLOOD_CLOSE_AFTER", "websocket_endpoint"]

log = logging.getLogger("vigie.endpoint")

CLOSE_SEND_TIMEOUT_S = 5.0  # how long a session's close frame may take to go out


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one WebSocket connection for its whole life."""
    node: Node = websocket.app.state.node
    offered = list(websocket.scope.get("subprotocols") or [])
    codec = choose_codec(offered)
    if codec is None:
        await websocket.close(code=CloseCode.PROTOCOL_ERROR, reason="unsupported subprotocol")
        return
    admission = websocket.app.state.admission
    peer = websocket.client.host if websocket.client else "?"
    await websocket.accept(subprotocol=codec.value if offered else None)
    if not admission.admit_connection(peer):
        await _close(websocket, node, Close(CloseCode.TOO_MANY, "too many connections"))
        return
    try:
        await _serve(websocket, node, codec, peer)
    finally:
        admission.release_connection(peer)


async def _serve(websocket: WebSocket, node: Node, codec: Codec, peer: str) -> None:
    protocol = new_protocol(codec, node.config.hub)
    hello = protocol.hello(await _first_frame(websocket, node))
    if isinstance(hello, Close):
        await _close(websocket, node, hello)
        return
    claims = await authenticate(websocket.app.state.keys, hello.token)
    tenant = node.config.tenant(claims.tenant) if claims else None
    admission = websocket.app.state.admission
    outcome = opening(node, admission, claims if tenant is not None else None)
    refusal = protocol.open(outcome, claims.role if claims else "")
    if refusal is not None:
        if claims is not None and outcome in (Opening.FAILED, Opening.DRAINING):
            admission.release_token(claims)
        await _close(websocket, node, refusal)
        return
    assert claims is not None and tenant is not None  # Opening.OK
    session = Session(
        secrets.token_urlsafe(12),
        claims,
        codec,
        tenant,
        node.config.hub,
        websocket.send,
        protocol,
    )
    try:
        if await session_opened(node, session, hello):
            await _read_loop(websocket, node, session)
    finally:
        admission.release_token(claims)
        await session_closed(node, session)
        protocol.lost()
        # Returning drops the transport: a close the session started (4429 flood,
        # 4408 slow, 1013 storage away) must be on the wire first.
        await session.wait_close_sent(CLOSE_SEND_TIMEOUT_S)


async def _first_frame(websocket: WebSocket, node: Node) -> str | bytes | None:
    """The first frame, or None when none came within hello_timeout_s."""
    try:
        return await asyncio.wait_for(_receive(websocket), node.config.hub.hello_timeout_s)
    except TimeoutError:
        return None


async def _read_loop(websocket: WebSocket, node: Node, session: Session) -> None:
    protocol = session.protocol
    session.reader = asyncio.current_task()
    while session.close_code is None:
        session.receiving = True
        try:
            frame = await _receive(websocket)
        except asyncio.CancelledError:
            if session.close_code is None:
                raise
            # Session.close() released us from receive(): not a shutdown, just done.
            if session.reader is not None:
                session.reader.uncancel()
            return
        finally:
            session.receiving = False
        if frame is None:
            return
        node.metrics.messages_in += 1
        received = protocol.receive(frame, time.monotonic())
        if isinstance(received, Refused):
            node.metrics.errors[received.error.code.value] += 1
            session.send_message(received.reply)
        else:
            reply = await handle(node, session, received)
            if reply is not None:
                session.send_message(reply)
            node.catch_up(session)  # a handler's hold ends after its reply (neighbours.follow)
        flood = protocol.flood()
        if flood is not None:
            session.close(flood.code, flood.reason)


async def _receive(websocket: WebSocket) -> str | bytes | None:
    """The next data frame, or None when the peer is gone."""
    try:
        message = await websocket.receive()
    except (WebSocketDisconnect, RuntimeError):
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    return text if text is not None else message.get("bytes") or b""


async def _close(websocket: WebSocket, node: Node, decision: Close) -> None:
    node.metrics.closes[decision.code] += 1
    with contextlib.suppress(RuntimeError):  # already closed
        await websocket.close(code=decision.code, reason=decision.reason)
