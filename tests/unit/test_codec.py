"""The wire codec: round-trips, subprotocol choice, undecodable frames, encode-once."""

from __future__ import annotations

from typing import Any

import msgpack
import orjson
import pytest

from hub.core.codec import Codec, EncodedEvent, choose_codec, decode, encode, frame_for
from hub.core.errors import ErrorCode, ProtocolError

MESSAGE: dict[str, Any] = {
    "type": "incident",
    "stream": "events",
    "offset": "1764153600000-3",
    "incident": {
        "id": "inc-1",
        "category": "vandalism",
        "priority": 3,
        "score": 93.5,
        "cell": "89396c1a8b7ffff",
        "lat": 43.1839,
        "lon": 3.0042,
        "reports": 3,
        "text": "Dégradation rue Jean-Jaurès — « tags »",
        "opened_at": 1764153600000,
    },
    "flags": [True, False, None],
}


# -- round trips --------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(Codec))
def test_encode_then_decode_round_trips(codec: Codec) -> None:
    assert decode(encode(MESSAGE, codec), codec) == MESSAGE


@pytest.mark.parametrize("codec", list(Codec))
def test_frame_for_round_trips(codec: Codec) -> None:
    assert decode(frame_for(MESSAGE, codec), codec) == MESSAGE


def test_json_frames_are_text_and_msgpack_frames_are_binary() -> None:
    assert isinstance(frame_for(MESSAGE, Codec.JSON), str)
    assert isinstance(frame_for(MESSAGE, Codec.MSGPACK), bytes)
    assert isinstance(encode(MESSAGE, Codec.JSON), bytes)  # UTF-8, sent as text


def test_msgpack_frames_use_the_str_and_bin_types() -> None:
    packed = encode({"type": "x", "blob": b"\x00\x01"}, Codec.MSGPACK)
    assert msgpack.unpackb(packed, raw=False) == {"type": "x", "blob": b"\x00\x01"}


def test_codec_values_are_the_subprotocol_names() -> None:
    assert Codec.JSON.value == "vigie.v1.json"
    assert Codec.MSGPACK.value == "vigie.v1.msgpack"


# -- choose_codec -------------------------------------------------------------------


def test_no_subprotocol_offered_gets_json() -> None:
    assert choose_codec([]) is Codec.JSON


@pytest.mark.parametrize("offered", [["chat"], ["vigie.v2.json"], ["VIGIE.V1.JSON"], ["chat", "x"]])
def test_only_unknown_subprotocols_gets_none(offered: list[str]) -> None:
    assert choose_codec(offered) is None


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["vigie.v1.msgpack"], Codec.MSGPACK),
        (["vigie.v1.json"], Codec.JSON),
        (["vigie.v1.msgpack", "vigie.v1.json"], Codec.MSGPACK),
        (["vigie.v1.json", "vigie.v1.msgpack"], Codec.JSON),
        (["chat", "vigie.v1.msgpack", "vigie.v1.json"], Codec.MSGPACK),
    ],
)
def test_first_supported_subprotocol_wins(offered: list[str], expected: Codec) -> None:
    assert choose_codec(offered) is expected


# -- undecodable frames -------------------------------------------------------------


def assert_bad_request(frame: bytes | str, codec: Codec) -> None:
    with pytest.raises(ProtocolError) as info:
        decode(frame, codec)
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert info.value.ref is None


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "{",
        '{"type": "hello"',
        "{'type': 'hello'}",
        "NaN",
        '{"a": 1} trailing',
        '"\ud800"',  # a lone surrogate is not UTF-8
        b"\xff\xfe{}",
        "[" * 2000 + "]" * 2000,  # deeper than the parser allows
    ],
    ids=[
        "empty",
        "open",
        "unclosed",
        "single-quotes",
        "nan",
        "trailing",
        "surrogate",
        "not-utf8",
        "deep",
    ],
)
def test_bad_json_is_bad_request(frame: bytes | str) -> None:
    assert_bad_request(frame, Codec.JSON)


PACKED = msgpack.packb({"type": "hello", "token": "abc"}, use_bin_type=True)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\xc1",  # the one reserved byte
        PACKED[:-2],  # truncated
        PACKED[:1],
        msgpack.packb({1: "a"}),  # int key
        b"\x81\x91\x01\x01",  # list key
        b"\x81\x80\x01",  # map key
        b"\x91" * 100_000 + b"\x90",  # deeply nested arrays
        b"\x81\xa1a" * 100_000 + b"\xc0",  # deeply nested maps
        b"\xdd\xff\xff\xff\xff",  # an array header claiming 4 G items
        b"\xa2\xff\xfe",  # a str that is not UTF-8
        PACKED + PACKED,  # two messages in one frame
    ],
    ids=[
        "empty",
        "reserved",
        "truncated",
        "header-only",
        "int-key",
        "list-key",
        "map-key",
        "deep-arrays",
        "deep-maps",
        "huge-header",
        "not-utf8",
        "extra-data",
    ],
)
def test_bad_msgpack_is_bad_request(frame: bytes) -> None:
    assert_bad_request(frame, Codec.MSGPACK)


def test_undecodable_error_names_the_codec_not_the_exception() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(b"\xc1", Codec.MSGPACK)
    assert info.value.message == "undecodable MSGPACK frame"
    assert "FormatError" not in info.value.to_message()["message"]


# -- frame kind vs session codec ----------------------------------------------------


def test_text_frame_on_a_msgpack_session_is_read_as_json() -> None:
    assert decode('{"type": "hello"}', Codec.MSGPACK) == {"type": "hello"}


def test_bad_text_frame_on_a_msgpack_session_is_bad_request() -> None:
    assert_bad_request("{nope", Codec.MSGPACK)


def test_binary_json_on_a_json_session_is_read_as_json() -> None:
    assert decode(b'{"type": "hello"}', Codec.JSON) == {"type": "hello"}


def test_binary_msgpack_on_a_json_session_is_bad_request() -> None:
    assert_bad_request(PACKED, Codec.JSON)


# -- EncodedEvent -------------------------------------------------------------------


def test_encoded_event_encodes_once_per_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    import hub.core.codec as codec_module

    calls: list[Codec] = []
    real = codec_module.frame_for

    def counting(message: dict[str, Any], codec: Codec) -> bytes | str:
        calls.append(codec)
        return real(message, codec)

    monkeypatch.setattr(codec_module, "frame_for", counting)
    event = EncodedEvent(MESSAGE)
    first_json, first_mp = event.frame(Codec.JSON), event.frame(Codec.MSGPACK)
    assert event.frame(Codec.JSON) is first_json
    assert event.frame(Codec.MSGPACK) is first_mp
    assert calls == [Codec.JSON, Codec.MSGPACK]


def test_encoded_event_frames_decode_to_the_message() -> None:
    event = EncodedEvent(MESSAGE)
    assert orjson.loads(event.frame(Codec.JSON)) == MESSAGE
    assert msgpack.unpackb(event.frame(Codec.MSGPACK), raw=False) == MESSAGE
