"""Error codes and close codes of the wire protocol, as data.

Rule: this module is the only place that names a code. Exception text never
reaches a client: handlers raise `ProtocolError` with a message written for
the client, and `error_for_exception` maps anything else to `internal`.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "CloseCode",
    "ErrorCode",
    "ProtocolError",
    "error_for_exception",
    "error_message",
]


class ErrorCode(StrEnum):
    """`error.code` values (protocol.md, Errors)."""

    BAD_REQUEST = "bad_request"  # malformed or invalid message; fix the client
    UNKNOWN_TYPE = "unknown_type"  # `type` is not a v1 message type
    FORBIDDEN = "forbidden"  # the session's role or tenant may not do this
    RATE_LIMITED = "rate_limited"  # retry after `retry_after_s`
    OUT_OF_AREA = "out_of_area"  # coordinates outside the tenant's area
    NOT_FOUND = "not_found"  # the incident/alert/assignment/unit does not exist here
    CONFLICT = "conflict"  # the object is not in a state that allows this
    TOO_LARGE = "too_large"  # a field exceeds its limit
    UNAVAILABLE = "unavailable"  # nothing was stored; retry with the same `ref`
    INTERNAL = "internal"  # a hub bug; nothing is promised


class CloseCode(IntEnum):
    """WebSocket close codes used by the hub (protocol.md, Close codes)."""

    GOING_AWAY = 1001  # process shutting down: reconnect anywhere, resume
    MESSAGE_TOO_BIG = 1009  # frame over 64 KiB: a client bug
    INTERNAL_ERROR = 1011  # a hub bug while serving the session: reconnect, resume
    SERVICE_RESTART = 1012  # process restarting: reconnect anywhere, resume
    BAD_HELLO = 4400  # first frame was not a valid hello: a client bug
    UNAUTHORIZED = 4401  # token missing/bad/expired/unknown tenant: get a new token
    TOO_SLOW = 4408  # the session's outbox overflowed: reconnect and resume
    TOO_MANY = 4429  # connection or message flood: back off, then reconnect


class ProtocolError(Exception):
    """A client-facing error: carries the code, a client-safe message and its ref."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.retry_after_s = retry_after_s

    def to_message(self, ref: str | None = None) -> dict[str, Any]:
        """The `error` message for the wire."""
        return error_message(
            self.code, self.message, ref=ref or self.ref, retry_after_s=self.retry_after_s
        )


def error_message(
    code: ErrorCode, message: str, *, ref: str | None = None, retry_after_s: float | None = None
) -> dict[str, Any]:
    """Build an `error` message; `ref` and `retry_after_s` only when set."""
    out: dict[str, Any] = {"type": "error", "code": code.value, "message": message}
    if ref is not None:
        out["ref"] = ref
    if retry_after_s is not None:
        out["retry_after_s"] = max(1, round(retry_after_s))
    return out


def error_for_exception(exc: BaseException) -> ProtocolError:
    """Map any exception to a client-safe ProtocolError (never leaks exception text)."""
    if isinstance(exc, ProtocolError):
        return exc
    return ProtocolError(ErrorCode.INTERNAL, "internal error; the hub logged it")
