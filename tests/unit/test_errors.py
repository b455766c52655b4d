"""Error codes and close codes as data (protocol.md, Errors and Close codes)."""

from __future__ import annotations

import pytest

from hub.core.errors import (
    CloseCode,
    ErrorCode,
    ProtocolError,
    error_for_exception,
    error_message,
)


def test_error_codes_are_the_protocol_codes() -> None:
    assert {c.value for c in ErrorCode} == {
        "bad_request",
        "unknown_type",
        "forbidden",
        "rate_limited",
        "out_of_area",
        "not_found",
        "conflict",
        "too_large",
        "unavailable",
        "internal",
    }


def test_close_codes_are_the_protocol_codes() -> None:
    assert {c.value for c in CloseCode} == {1001, 1009, 1011, 1012, 4400, 4401, 4408, 4429}
    assert CloseCode.TOO_SLOW == 4408
    assert CloseCode.UNAUTHORIZED == 4401


def test_error_message_leaves_out_unset_fields() -> None:
    assert error_message(ErrorCode.NOT_FOUND, "no such incident") == {
        "type": "error",
        "code": "not_found",
        "message": "no such incident",
    }


@pytest.mark.parametrize(("retry", "sent"), [(0.2, 1), (1.4, 1), (1.6, 2), (12, 12)])
def test_retry_after_is_whole_seconds_at_least_one(retry: float, sent: int) -> None:
    msg = error_message(ErrorCode.RATE_LIMITED, "slow down", ref="r", retry_after_s=retry)
    assert msg["retry_after_s"] == sent
    assert msg["ref"] == "r"


def test_protocol_error_to_message() -> None:
    err = ProtocolError(ErrorCode.UNAVAILABLE, "try again", ref="r1", retry_after_s=3)
    assert err.to_message() == {
        "type": "error",
        "code": "unavailable",
        "message": "try again",
        "ref": "r1",
        "retry_after_s": 3,
    }
    assert err.to_message(ref="r2")["ref"] == "r2"


def test_protocol_errors_map_to_themselves() -> None:
    err = ProtocolError(ErrorCode.CONFLICT, "already assigned")
    assert error_for_exception(err) is err


@pytest.mark.parametrize(
    "exc", [KeyError("secret_key"), RuntimeError("redis://:hunter2@db"), ValueError("x")]
)
def test_other_exceptions_are_internal_and_never_leak_their_text(exc: Exception) -> None:
    err = error_for_exception(exc)
    assert err.code is ErrorCode.INTERNAL
    assert str(exc) not in str(err.to_message())
