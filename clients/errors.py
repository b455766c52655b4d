"""What can go wrong for a client, as exceptions; one place names them all.

Replies are data: `Connection.request` returns an `error` reply as a message.
The role classes (`Citizen`, `Unit`, `Console`) turn such a reply into
`HubError`, so that their callers can write straight-line code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ClientClosed",
    "ClientError",
    "ConnectionLost",
    "HubError",
    "ProtocolViolation",
    "RequestTimeout",
    "Unauthorized",
    "raise_for_error",
]


class ClientError(Exception):
    """Base class of every error raised by the client library."""


class ClientClosed(ClientError):
    """The connection was closed by its owner; it sends and receives nothing more."""


class ConnectionLost(ClientError):
    """The session ended before a reply arrived (the request may or may not have run)."""


class RequestTimeout(ClientError, TimeoutError):
    """No reply carrying the request's `ref` arrived in time."""


class Unauthorized(ClientError):
    """The hub refused the token (close 4401) and no new token could be obtained."""


class ProtocolViolation(ClientError):
    """The hub closed with a code after which reconnecting cannot help.

    A client bug (1002-1003, 1007-1010: 1009 is a frame over 64 KiB; 4400 a bad
    hello) or a refused request (4402-4407); 4401 raises `Unauthorized` instead
    (docs/protocol.md, Close codes). Also raised when the token is for another role.

    Attributes:
        code: The WebSocket close code the hub sent.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class HubError(ClientError):
    """The hub answered a request with an `error` message.

    Attributes:
        code: The protocol's error code (`bad_request`, `unknown_type`, ...).
        ref: The request's `ref`.
        retry_after_s: Seconds to wait before retrying, when the hub said so.
        reply: The whole `error` message.
    """

    def __init__(self, reply: Mapping[str, Any]) -> None:
        self.code = str(reply.get("code", "internal"))
        self.ref = reply.get("ref")
        retry = reply.get("retry_after_s")
        self.retry_after_s = float(retry) if isinstance(retry, int | float) else None
        self.reply = dict(reply)
        super().__init__(f"{self.code}: {reply.get('message', '')}")


def raise_for_error(reply: Mapping[str, Any]) -> dict[str, Any]:
    """Return `reply` unless it is an `error`, which is raised as `HubError`."""
    if reply.get("type") == "error":
        raise HubError(reply)
    return dict(reply)
