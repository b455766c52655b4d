"""The `/ws` endpoint: handshake, hello, then one message at a time.

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
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from hub.core.codec import Codec, choose_codec, decode
from hub.core.errors import CloseCode, ErrorCode, ProtocolError
from hub.core.messages import ClientMessage, Hello, parse_message, read_ref
from hub.core.tokens import Claims, TokenError
from hub.server import commands as _commands  # noqa: F401  (registers console handlers)
from hub.server import conversation as _conversation  # noqa: F401  (registers its handlers)
from hub.server import field as _field  # noqa: F401  (registers unit/citizen lifecycle handlers)
from hub.server import handlers as _handlers  # noqa: F401  (registers handlers)
from hub.server import neighbours as _neighbours  # noqa: F401  (registers its handlers)
from hub.server.dispatch import handle
from hub.server.jwks import KeySource
from hub.server.lifecycle import session_closed, session_opened
from hub.server.node import Node
from hub.server.session import Session

__all__ = ["websocket_endpoint"]

log = logging.getLogger("vigie.endpoint")

FLOOD_CLOSE_AFTER = 20  # consecutive refused frames (undecodable or rate-limited) → 4429
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
        await _close(websocket, node, CloseCode.TOO_MANY, "too many connections")
        return
    try:
        await _serve(websocket, node, codec, peer)
    finally:
        admission.release_connection(peer)


async def _serve(websocket: WebSocket, node: Node, codec: Codec, peer: str) -> None:
    hello = await _read_hello(websocket, node, codec)
    if hello is None:
        return
    claims = await _authenticate(websocket, hello.token)
    tenant = node.config.tenant(claims.tenant) if claims else None
    if claims is None or tenant is None:
        await _close(websocket, node, CloseCode.UNAUTHORIZED, "unauthorized")
        return
    admission = websocket.app.state.admission
    if not admission.admit_token(claims):
        await _close(websocket, node, CloseCode.TOO_MANY, "too many sessions for this token")
        return
    session = Session(
        secrets.token_urlsafe(12), claims, codec, tenant, node.config.hub, websocket.send
    )
    try:
        if await session_opened(node, session, hello):
            await _read_loop(websocket, node, session)
    finally:
        admission.release_token(claims)
        await session_closed(node, session)
        # Returning drops the transport: a close the session started (4429 flood,
        # 4408 slow, 1013 storage away) must be on the wire first.
        await session.wait_close_sent(CLOSE_SEND_TIMEOUT_S)


async def _read_hello(websocket: WebSocket, node: Node, codec: Codec) -> Hello | None:
    try:
        frame = await asyncio.wait_for(_receive(websocket), node.config.hub.hello_timeout_s)
        if frame is None:
            return None
        msg = _parse_hello(decode(frame, codec))
    except (TimeoutError, ProtocolError):
        msg = None
    if not isinstance(msg, Hello):
        await _close(websocket, node, CloseCode.BAD_HELLO, "first frame must be a valid hello")
        return None
    return msg


def _parse_hello(raw: Any) -> ClientMessage:
    """Parse the first frame; a hello without a usable token fails authentication.

    protocol.md: "a bad, expired or missing token ... closes with 4401"; 4400 is
    for a first frame that is not a hello. So a hello whose token is missing,
    empty or not a string becomes a hello with an empty token, which
    `_authenticate` refuses.
    """
    try:
        return parse_message(raw)
    except ProtocolError:
        if isinstance(raw, dict) and raw.get("type") == "hello":
            token = raw.get("token")
            if not isinstance(token, str) or not token:
                return Hello("", {})
        raise


async def _authenticate(websocket: WebSocket, token: str) -> Claims | None:
    try:
        keys: KeySource = websocket.app.state.keys
        return await keys.verify(token)
    except TokenError as exc:
        log.info("refused token: %s", exc)
        return None


async def _read_loop(websocket: WebSocket, node: Node, session: Session) -> None:
    refused = 0
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
        reply, ok = await _one_message(node, session, frame)
        refused = 0 if ok else refused + 1
        if reply is not None:
            session.send_message(reply)
        if refused >= FLOOD_CLOSE_AFTER:
            session.close(CloseCode.TOO_MANY, "flood of refused messages")


async def _one_message(
    node: Node, session: Session, frame: str | bytes
) -> tuple[dict[str, Any] | None, bool]:
    """Handle one frame: (reply, accepted). Undecodable and rate-limited frames are refused."""
    wait = session.bucket.take(time.monotonic())
    try:
        raw = decode(frame, session.codec)
    except ProtocolError as exc:
        node.metrics.errors[exc.code.value] += 1
        return exc.to_message(), False
    if wait > 0:
        node.metrics.errors[ErrorCode.RATE_LIMITED.value] += 1
        ref = read_ref(raw) if isinstance(raw, dict) else None
        limited = ProtocolError(ErrorCode.RATE_LIMITED, "too many messages", retry_after_s=wait)
        return limited.to_message(ref), False
    try:
        msg = parse_message(raw, session.role)
    except ProtocolError as exc:
        node.metrics.errors[exc.code.value] += 1
        return exc.to_message(), True
    if isinstance(msg, Hello):
        return ProtocolError(ErrorCode.BAD_REQUEST, "hello was already received").to_message(
            msg.ref
        ), True
    return await handle(node, session, msg), True


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


async def _close(websocket: WebSocket, node: Node, code: int, reason: str) -> None:
    node.metrics.closes[code] += 1
    with contextlib.suppress(RuntimeError):  # already closed
        await websocket.close(code=code, reason=reason)
