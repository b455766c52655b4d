"""The sans-I/O session protocol, fed messages and bytes only (no socket, no loop)."""

from __future__ import annotations

import msgpack
import orjson
import pytest

from hub.core.codec import Codec
from hub.core.errors import CloseCode, ErrorCode
from hub.core.messages import Hello, UnitStatus
from hub.core.ratelimit import TokenBucket
from hub.core.session import (
    FLOOD_CLOSE_AFTER,
    PENDING_MAX,
    TRANSITIONS,
    Close,
    Opening,
    Refused,
    SessionProtocol,
    SessionProtocolError,
    State,
    first_frame,
)

STATUS = orjson.dumps({"type": "unit.status", "status": "available", "ref": "s1"})


def protocol(codec: Codec = Codec.JSON, bucket: TokenBucket | None = None) -> SessionProtocol[str]:
    return SessionProtocol(codec, bucket or TokenBucket(0, 1))


def live(codec: Codec = Codec.JSON, bucket: TokenBucket | None = None) -> SessionProtocol[str]:
    p = protocol(codec, bucket)
    assert p.open(Opening.OK, "unit") is None
    p.synced()
    return p


# -- the hello ------------------------------------------------------------------------


def test_a_hello_is_read_from_json_text_and_msgpack_bytes() -> None:
    hello = {"type": "hello", "token": "t", "resume": {"events": "1-0"}}
    assert first_frame(orjson.dumps(hello).decode(), Codec.JSON) == Hello("t", {"events": "1-0"})
    packed = msgpack.packb(hello, use_bin_type=True)
    assert first_frame(packed, Codec.MSGPACK) == Hello("t", {"events": "1-0"})


@pytest.mark.parametrize(
    "frame",
    [None, b"\xff\xfe", "not json", '{"type": "unit.status", "status": "available"}', "[]"],
    ids=["none in time", "undecodable", "garbage", "not a hello", "not a map"],
)
def test_a_first_frame_that_is_no_hello_closes_4400(frame: str | bytes | None) -> None:
    p = protocol()
    decision = p.hello(frame)
    assert decision == Close(CloseCode.BAD_HELLO, "first frame must be a valid hello")
    assert p.state is State.CLOSING and p.close_code == 4400


@pytest.mark.parametrize("token", [None, "", 42])
def test_a_hello_without_a_usable_token_is_a_hello_that_fails_authentication(
    token: object,
) -> None:
    raw = {"type": "hello"} if token is None else {"type": "hello", "token": token}
    assert protocol().hello(orjson.dumps(raw)) == Hello("", {})


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Opening.BAD_TOKEN, 4401),
        (Opening.TOO_MANY, 4429),
        (Opening.FAILED, 1011),
        (Opening.DRAINING, 1012),
    ],
)
def test_an_opening_refused_names_its_close(outcome: Opening, code: int) -> None:
    p = protocol()
    refusal = p.open(outcome, "citizen")
    assert refusal is not None and refusal.code == code and p.close_code == code
    assert p.state is State.CLOSING


def test_an_opened_session_syncs_then_goes_live() -> None:
    p = protocol()
    assert p.open(Opening.OK, "console") is None
    assert p.state is State.SYNCING and p.syncing and p.role == "console"
    assert p.synced() == []
    assert p.state is State.LIVE and not p.syncing


# -- the pending buffer while syncing -----------------------------------------------


def test_live_entries_wait_in_order_while_syncing_and_come_out_once() -> None:
    p = protocol()
    p.open(Opening.OK, "unit")
    for entry in ("a", "b", "c"):
        assert p.buffer(entry) is None
    assert p.synced() == ["a", "b", "c"]
    assert p.pending == []


def test_a_live_session_holds_entries_while_a_request_reads_a_snapshot() -> None:
    p = live()
    p.hold()
    assert p.state is State.SYNCING and p.syncing
    assert p.buffer("a") is None and p.buffer("b") is None
    assert p.synced() == ["a", "b"]
    assert p.state is State.LIVE and p.pending == []
    p.hold()
    with pytest.raises(SessionProtocolError, match="state syncing got held"):
        p.hold()  # one hold at a time


def test_too_many_live_entries_while_syncing_close_4408() -> None:
    p = protocol()
    p.open(Opening.OK, "unit")
    for i in range(PENDING_MAX):
        assert p.buffer(str(i)) is None
    overflow = p.buffer("one too many")
    assert overflow is not None and overflow.code == CloseCode.TOO_SLOW
    assert p.state is State.CLOSING and p.pending == []


# -- floors ---------------------------------------------------------------------------


def test_floors_drop_what_was_delivered_per_stream() -> None:
    p = live()
    assert p.fresh((5, 0), personal=False)
    assert not p.fresh((5, 0), personal=False)  # a duplicate
    assert not p.fresh((4, 9), personal=False)  # older
    assert p.fresh((1, 0), personal=True)  # the inbox has its own floor
    assert p.events_floor == (5, 0) and p.inbox_floor == (1, 0)
    assert p.fresh(None, personal=False) and p.fresh(None, personal=False)  # live-only


# -- frames and floods ----------------------------------------------------------------


def test_a_valid_frame_becomes_a_typed_message() -> None:
    assert live().receive(STATUS, 0.0) == UnitStatus("available", "s1")
    packed = msgpack.packb({"type": "unit.status", "status": "busy"}, use_bin_type=True)
    assert live(Codec.MSGPACK).receive(packed, 0.0) == UnitStatus("busy", None)


def test_an_undecodable_frame_is_refused_and_counts_toward_a_flood() -> None:
    p = live()
    refused = p.receive(b"\x00{", 0.0)
    assert isinstance(refused, Refused) and refused.counts
    assert refused.reply["type"] == "error" and refused.reply["code"] == "bad_request"


def test_an_invalid_message_is_answered_but_is_no_flood() -> None:
    p = live()
    for _ in range(FLOOD_CLOSE_AFTER * 2):
        refused = p.receive(orjson.dumps({"type": "no.such"}), 0.0)
        assert isinstance(refused, Refused) and not refused.counts
        assert refused.error.code is ErrorCode.UNKNOWN_TYPE
    assert p.flood() is None and p.state is State.LIVE


def test_a_second_hello_is_refused_with_its_ref() -> None:
    refused = live().receive(orjson.dumps({"type": "hello", "token": "t", "ref": "h2"}), 0.0)
    assert isinstance(refused, Refused) and refused.reply["ref"] == "h2"
    assert refused.reply["message"] == "hello was already received"


def test_rate_limited_frames_carry_retry_after_and_their_ref() -> None:
    p = live(bucket=TokenBucket(2, 1.0))
    assert not isinstance(p.receive(STATUS, 0.0), Refused)
    assert not isinstance(p.receive(STATUS, 0.0), Refused)
    limited = p.receive(STATUS, 0.0)
    assert isinstance(limited, Refused) and limited.counts
    assert limited.reply["code"] == "rate_limited" and limited.reply["ref"] == "s1"
    assert limited.reply["retry_after_s"] == 1


def test_a_flood_of_refused_frames_closes_4429_and_an_accepted_one_resets_it() -> None:
    p = live()
    for _ in range(FLOOD_CLOSE_AFTER - 1):
        p.receive(b"\xff", 0.0)
        assert p.flood() is None
    p.receive(STATUS, 0.0)  # accepted: the count starts again
    for _ in range(FLOOD_CLOSE_AFTER - 1):
        p.receive(b"\xff", 0.0)
    assert p.flood() is None
    p.receive(b"\xff", 0.0)
    assert p.flood() == Close(CloseCode.TOO_MANY, "flood of refused messages")
    assert p.state is State.CLOSING


# -- closing --------------------------------------------------------------------------


def test_the_first_close_wins() -> None:
    p = live()
    assert p.close(Close(4408, "slow"))
    assert not p.close(Close(1012, "restart"))
    assert p.close_code == 4408 and p.state is State.CLOSING
    p.lost()
    assert p.state is State.CLOSED and p.close_code == 4408


@pytest.mark.parametrize("opened", [False, True])
def test_a_connection_lost_in_any_state_is_closed_without_a_code(opened: bool) -> None:
    p = protocol()
    if opened:
        p.open(Opening.OK, "citizen")
        p.buffer("x")
    p.lost()
    assert p.state is State.CLOSED and p.close_code is None and p.pending == []
    assert not p.close(Close(1001, "late"))  # nothing left to close


def test_an_event_a_state_does_not_allow_is_an_error_naming_both() -> None:
    p = live()
    with pytest.raises(SessionProtocolError, match="state live got synced"):
        p.synced()


def test_every_state_but_closed_can_be_lost() -> None:
    lost = {state for (state, event), _ in TRANSITIONS.items() if event.value == "lost"}
    assert lost == set(State) - {State.CLOSED}
