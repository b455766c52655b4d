"""Message type → handler registry, and the one place that maps failures to errors.

Handlers are `async def handler(node, session, msg) -> dict | None`: the reply
to send to the sender (None: send `ok` if the message carried a `ref`).
They raise `ProtocolError` for client-facing failures; a Redis outage
(unreachable, failing over, a demoted primary, replicas that did not confirm
the write in time) becomes `unavailable` (nothing acknowledged: retry with the
same `ref`), and anything else `internal`, logged, its text never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import RedisError, ResponseError

from hub.core.errors import ErrorCode, ProtocolError, error_for_exception
from hub.core.messages import ClientMessage
from hub.core.supervision import Fault
from hub.server.node import Node
from hub.server.session import Session
from hub.server.supervision import classify
from hub.store.replication import NotReplicatedError

__all__ = ["Handler", "handle", "handles"]

log = logging.getLogger("vigie.dispatch")

M = TypeVar("M", bound=ClientMessage)
Handler = Callable[[Node, Session, Any], Awaitable[dict[str, Any] | None]]
_HANDLERS: dict[type[Any], Handler] = {}
RETRY_AFTER_S = 2


def handles(
    msg_type: type[M],
) -> Callable[[Callable[[Node, Session, M], Awaitable[dict[str, Any] | None]]], Handler]:
    """Register the decorated coroutine as the handler of `msg_type`."""

    def register(fn: Callable[[Node, Session, M], Awaitable[dict[str, Any] | None]]) -> Handler:
        _HANDLERS[msg_type] = fn
        return fn

    return register


async def handle(node: Node, session: Session, msg: ClientMessage) -> dict[str, Any] | None:
    """Run the handler of `msg` and return the reply for the sender, if any."""
    ref = getattr(msg, "ref", None)
    handler = _HANDLERS.get(type(msg))
    try:
        if handler is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "not supported by this hub", ref=ref)
        reply = await handler(node, session, msg)
    except ProtocolError as exc:
        node.metrics.errors[exc.code.value] += 1
        return exc.to_message(ref)
    except (RedisError, OSError) as exc:
        return _storage_failure(node, session, msg, exc).to_message(ref)
    except Exception as exc:
        node.metrics.errors[ErrorCode.INTERNAL.value] += 1
        log.exception("handler for %s failed", type(msg).__name__)
        return error_for_exception(exc).to_message(ref)
    if reply is None and ref is not None:
        return {"type": "ok", "ref": ref}
    return reply


UNAVAILABLE = "storage unavailable, nothing was stored; retry"
NOT_CONFIRMED = "not confirmed by a replica in time; retry with the same ref"


def _storage_failure(
    node: Node, session: Session, msg: ClientMessage, exc: RedisError | OSError
) -> ProtocolError:
    """`unavailable` for an outage; `internal` for a script Redis refused to run."""
    name = type(msg).__name__
    if isinstance(exc, ResponseError) and classify(exc) is Fault.ERROR:
        # A script refused to run (a bug, or data it did not expect): not retryable.
        node.metrics.errors[ErrorCode.INTERNAL.value] += 1
        log.exception("Redis refused %s from %s", name, session.id, exc_info=exc)
        return ProtocolError(ErrorCode.INTERNAL, "internal error; the hub logged it")
    node.metrics.errors[ErrorCode.UNAVAILABLE.value] += 1
    log.warning("%s from %s: Redis unavailable: %s", name, session.id, exc)
    text = NOT_CONFIRMED if isinstance(exc, NotReplicatedError) else UNAVAILABLE
    return ProtocolError(ErrorCode.UNAVAILABLE, text, retry_after_s=RETRY_AFTER_S)
