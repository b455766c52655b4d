"""Handlers of the conversation with the reporters, and of their feedback
(the rules: hub/core/conversation.py)."""

from __future__ import annotations

from typing import Any

from hub.core import conversation
from hub.core.messages import AlertFeedback, MessageReply, MessageSend
from hub.server.dispatch import handles
from hub.server.handlers import now_ms
from hub.server.node import Node
from hub.server.recommending import session_context
from hub.server.session import Session

__all__: list[str] = []


def _rate(node: Node, session: Session, rate: tuple[int, int]) -> dict[str, Any]:
    key = node.runtime(session).keys.message_rate(session.role, session.sub)
    return {"rate_key": key, "rate_n": rate[0], "rate_window_ms": rate[1] * 1000}


@handles(MessageSend)
async def send(node: Node, session: Session, msg: MessageSend) -> dict[str, Any]:
    """The control room writes to an incident's reporters (or one alert's)."""
    params = {
        "mode": "send",
        "incident": msg.incident,
        "alert": msg.alert,
        "text": msg.text,
        "from": conversation.FROM_CONTROL_ROOM,
        **_rate(node, session, conversation.CONSOLE_MESSAGE_RATE),
    }
    ctx = session_context(node, session, msg, now_ms())
    (message,) = await node.dispatch.run("message", ctx, params)
    return {"type": "ok", "ref": msg.ref, "message": message}


@handles(MessageReply)
async def reply(node: Node, session: Session, msg: MessageReply) -> dict[str, Any]:
    """A reporter answers about its own alert, while the incident is live."""
    params = {
        "mode": "reply",
        "alert": msg.alert,
        "citizen": session.sub,
        "text": msg.text,
        "from": conversation.FROM_REPORTER,
        **_rate(node, session, conversation.REPORTER_MESSAGE_RATE),
    }
    ctx = session_context(node, session, msg, now_ms())
    (message,) = await node.dispatch.run("message", ctx, params)
    return {"type": "ok", "ref": msg.ref, "message": message}


@handles(AlertFeedback)
async def feedback(node: Node, session: Session, msg: AlertFeedback) -> None:
    """A reporter rates the handling of its alert, once, after the end."""
    params = {
        "alert": msg.alert,
        "citizen": session.sub,
        "score": msg.score,
        "comment": msg.comment,
        "after": list(conversation.FEEDBACK_AFTER),
    }
    await node.dispatch.run("feedback", session_context(node, session, msg, now_ms()), params)
