"""The session outbox and its named overflow policy (hub/core/outbox.py)."""

from __future__ import annotations

from hub.core.outbox import Outbox, PushResult


def drain(box: Outbox) -> list[str | bytes]:
    out = []
    while (frame := box.pop()) is not None:
        out.append(frame)
    return out


def test_pop_is_fifo_and_none_when_empty() -> None:
    box = Outbox(10, 1000)
    assert box.pop() is None
    for frame in ("a", b"b", "c", b"d"):
        assert box.push(frame) is PushResult.QUEUED
    assert len(box) == 4
    assert drain(box) == ["a", b"b", "c", b"d"]
    assert len(box) == 0
    assert box.bytes == 0


def test_byte_count_follows_push_and_pop() -> None:
    box = Outbox(10, 1000)
    box.push("abc")
    box.push(b"\x00" * 10)
    assert box.bytes == 13
    box.pop()
    assert box.bytes == 10


# -- durable frames: OVERFLOW -------------------------------------------------------


def test_durable_overflow_by_count() -> None:
    box = Outbox(3, 1000)
    assert [box.push(f"m{i}") for i in range(3)] == [PushResult.QUEUED] * 3
    assert box.push("m3") is PushResult.OVERFLOW
    assert len(box) == 3
    assert box.bytes == 6
    assert drain(box) == ["m0", "m1", "m2"]  # the overflowing frame was not queued


def test_durable_overflow_by_bytes() -> None:
    box = Outbox(100, 10)
    assert box.push("x" * 6) is PushResult.QUEUED
    assert box.push("y" * 5) is PushResult.OVERFLOW
    assert box.push("z" * 4) is PushResult.QUEUED  # filling up to the limit exactly is fine
    assert box.bytes == 10
    assert box.push("!") is PushResult.OVERFLOW
    assert drain(box) == ["x" * 6, "z" * 4]


def test_a_single_frame_larger_than_the_outbox_overflows() -> None:
    box = Outbox(100, 10)
    assert box.push(b"\x00" * 11) is PushResult.OVERFLOW
    assert len(box) == 0


def test_durable_frames_are_never_shed() -> None:
    box = Outbox(4, 1000)
    results = [box.push(f"m{i}") for i in range(4)]
    assert results == [PushResult.QUEUED] * 4
    assert box.shed == 0


# -- non-durable frames: SHED at half full ------------------------------------------


def test_non_durable_shed_at_half_full_by_count() -> None:
    box = Outbox(4, 1000)
    assert box.push("n0", durable=False) is PushResult.QUEUED
    assert box.push("n1", durable=False) is PushResult.QUEUED
    assert box.push("n2", durable=False) is PushResult.SHED
    assert box.shed == 1
    assert box.push("d2") is PushResult.QUEUED  # durable frames still fit
    assert box.push("n3", durable=False) is PushResult.SHED
    assert box.shed == 2
    assert drain(box) == ["n0", "n1", "d2"]


def test_non_durable_shed_at_half_full_by_bytes() -> None:
    box = Outbox(100, 10)
    assert box.push("x" * 4, durable=False) is PushResult.QUEUED
    assert box.push("y", durable=False) is PushResult.QUEUED  # 5 bytes: half full now
    assert box.push("z", durable=False) is PushResult.SHED
    assert box.bytes == 5


def test_non_durable_frame_that_does_not_fit_is_shed_not_overflow() -> None:
    # Policy: only durable frames close the session; a big position update does not.
    box = Outbox(100, 10)
    box.push("x" * 4)
    assert box.push("y" * 7, durable=False) is PushResult.SHED
    assert box.push("z" * 20, key="unit-1", durable=False) is PushResult.SHED
    assert box.shed == 2
    assert drain(box) == ["x" * 4]


def test_shedding_resumes_queueing_once_drained() -> None:
    box = Outbox(2, 1000)
    box.push("a", durable=False)
    assert box.push("b", durable=False) is PushResult.SHED
    box.pop()
    assert box.push("c", durable=False) is PushResult.QUEUED


# -- coalescible frames: replaced in place -----------------------------------------


def test_coalescing_replaces_in_place() -> None:
    box = Outbox(10, 1000)
    box.push("pos-u1-a", key="u1", durable=False)
    box.push("incident")
    box.push("pos-u2-a", key="u2", durable=False)
    assert box.push("pos-u1-b", key="u1", durable=False) is PushResult.COALESCED
    assert len(box) == 3
    assert drain(box) == ["pos-u1-b", "incident", "pos-u2-a"]


def test_coalescing_keeps_the_byte_count_right() -> None:
    box = Outbox(10, 1000)
    box.push("abc", key="u1", durable=False)
    box.push("de")
    box.push("x" * 10, key="u1", durable=False)
    assert box.bytes == 12
    box.push("y", key="u1", durable=False)
    assert box.bytes == 3
    assert drain(box) == ["y", "de"]
    assert box.bytes == 0


def test_coalescing_needs_no_room() -> None:
    box = Outbox(2, 1000)
    box.push("a", key="u1", durable=False)
    box.push("b")
    assert box.push("a2", key="u1", durable=False) is PushResult.COALESCED
    assert box.shed == 0
    assert drain(box) == ["a2", "b"]


def test_a_popped_key_queues_anew() -> None:
    box = Outbox(10, 1000)
    box.push("a", key="u1", durable=False)
    assert box.pop() == "a"
    assert box.push("b", key="u1", durable=False) is PushResult.QUEUED
    assert box.push("c", key="u1", durable=False) is PushResult.COALESCED
    assert drain(box) == ["c"]


def test_keys_are_any_hashable() -> None:
    box = Outbox(10, 1000)
    box.push("a", key=("unit", "u1"), durable=False)
    assert box.push("b", key=("unit", "u1"), durable=False) is PushResult.COALESCED
    assert box.push("c", key=("unit", "u2"), durable=False) is PushResult.QUEUED


# -- clear -------------------------------------------------------------------------


def test_clear() -> None:
    box = Outbox(10, 1000)
    box.push("a", key="u1", durable=False)
    box.push("b")
    box.clear()
    assert len(box) == 0
    assert box.bytes == 0
    assert box.pop() is None
    assert box.push("c", key="u1", durable=False) is PushResult.QUEUED  # the key is forgotten
    assert drain(box) == ["c"]
