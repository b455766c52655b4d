"""The wire codec: frames ⇄ Python maps, for the two v1 subprotocols.

JSON frames are text (orjson), MessagePack frames are binary. Outgoing events
are encoded once per codec and the same bytes go to every recipient
(`EncodedEvent`), so fan-out cost does not grow with encoding work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgpack
import orjson

from hub.core.errors import ErrorCode, ProtocolError

__all__ = ["Codec", "EncodedEvent", "Frame", "choose_codec", "decode", "encode", "frame_for"]

Frame = str | bytes  # str goes out as a text frame, bytes as a binary frame


class Codec(StrEnum):
    """The v1 subprotocols; the value is the subprotocol name."""

    JSON = "vigie.v1.json"
    MSGPACK = "vigie.v1.msgpack"


def choose_codec(offered: list[str]) -> Codec | None:
    """Pick the client's first offered v1 subprotocol; None offered → JSON.

    Returns None when the client offered subprotocols but none of ours.
    """
    if not offered:
        return Codec.JSON
    for name in offered:
        if name in (Codec.JSON.value, Codec.MSGPACK.value):
            return Codec(name)
    return None


def encode(message: dict[str, Any], codec: Codec) -> bytes:
    """Encode one outgoing message (JSON as UTF-8 bytes, sent as a text frame)."""
    if codec is Codec.JSON:
        return orjson.dumps(message)
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def frame_for(message: dict[str, Any], codec: Codec) -> Frame:
    """Encode one outgoing message as the frame to send (text for JSON)."""
    if codec is Codec.JSON:
        # ASGI carries text frames as str; orjson output is always valid UTF-8.
        return orjson.dumps(message).decode()
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def decode(frame: bytes | str, codec: Codec) -> Any:
    """Decode one incoming frame. Raises ProtocolError(bad_request) if undecodable.

    A text frame is JSON even on a msgpack session, and a binary frame on a
    JSON session is tried as JSON: clients get the benefit of the doubt.
    """
    try:
        if isinstance(frame, str) or codec is Codec.JSON:
            return orjson.loads(frame)
        # strict_map_key=False is not set: msgpack maps with non-string keys are refused,
        # and raw=False turns str payloads to Python str.
        return msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except (
        orjson.JSONDecodeError,
        ValueError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        TypeError,
    ) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"undecodable {codec.name} frame") from exc


@dataclass(slots=True)
class EncodedEvent:
    """An outgoing event with its bytes cached per codec (encode once, send many)."""

    message: dict[str, Any]
    order: tuple[int, int] | None = None  # the parsed `offset`, compared once per recipient
    _cache: dict[Codec, Frame] = field(default_factory=dict)

    def frame(self, codec: Codec) -> Frame:
        """The frame for `codec`, encoding on first use only."""
        data = self._cache.get(codec)
        if data is None:
            data = self._cache[codec] = frame_for(self.message, codec)
        return data
