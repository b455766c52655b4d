"""Stream offsets: Redis stream ids, compared numerically."""

from __future__ import annotations

import pytest

from hub.core.offsets import ZERO, is_offset, offset_key

U64_MAX = 2**64 - 1


@pytest.mark.parametrize(
    ("offset", "key"),
    [
        ("0-0", (0, 0)),
        ("0", (0, 0)),
        ("1-2", (1, 2)),
        ("1764153600000-0", (1764153600000, 0)),
        ("1764153600000", (1764153600000, 0)),
        (f"{U64_MAX}-{U64_MAX}", (U64_MAX, U64_MAX)),
    ],
)
def test_well_formed_offsets(offset: str, key: tuple[int, int]) -> None:
    assert offset_key(offset) == key
    assert is_offset(offset)


def test_zero() -> None:
    assert offset_key("0-0") == ZERO == (0, 0)


def test_offsets_compare_numerically_not_as_text() -> None:
    offsets = ["1764153600000-10", "999-5", "1764153600000-9", "1764153600001-0", "0-1"]
    assert sorted(offsets, key=offset_key) == [
        "0-1",
        "999-5",
        "1764153600000-9",
        "1764153600000-10",
        "1764153600001-0",
    ]
    assert offset_key("10-0") > offset_key("9-99")


@pytest.mark.parametrize(
    "offset",
    [
        "",
        "-",
        "a-1",
        "1-a",
        "1-2-3",
        "-1-0",
        "1--1",
        "1-",  # Redis refuses an empty sequence part
        "-5",
        " 1-2",  # int() takes these; Redis does not
        "1-2 ",
        "+1-0",
        "1-+2",
        "1_000-0",
        "٣-0",  # a non-ASCII digit
        "0x10-0",
        "1.5-0",
        f"{U64_MAX + 1}-0",  # beyond Redis's 64-bit parts
        f"0-{U64_MAX + 1}",
        "$",
        "+",
        ">",
    ],
)
def test_malformed_offsets(offset: str) -> None:
    assert not is_offset(offset)
    with pytest.raises(ValueError):
        offset_key(offset)
