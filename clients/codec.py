"""Frames ⇄ messages for the two v1 subprotocols, on the client side.

Rule: this is the only module of the client library that touches the wire
format. Past it, a message is a `Message`: a map with a string `type`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgpack
import orjson

__all__ = ["DecodeError", "Encoding", "Message", "decode", "encode"]

Message = dict[str, Any]


class DecodeError(ValueError):
    """A frame from the hub is not one map with a string `type`."""


class Encoding(StrEnum):
    """The payload encodings of protocol v1; each is one WebSocket subprotocol."""

    JSON = "json"
    MSGPACK = "msgpack"

    @property
    def subprotocol(self) -> str:
        """The WebSocket subprotocol that selects this encoding."""
        return f"vigie.v1.{self.value}"


def encode(message: Message, encoding: Encoding) -> str | bytes:
    """Encode one message: a text frame (str) for JSON, a binary frame for msgpack."""
    if encoding is Encoding.JSON:
        return orjson.dumps(message).decode()
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def decode(frame: str | bytes) -> Message:
    """Decode one frame: text frames are JSON, binary frames are msgpack.

    Raises:
        DecodeError: The frame is undecodable or not a map with a string `type`.
    """
    try:
        value = orjson.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False)
    except (orjson.JSONDecodeError, ValueError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise DecodeError(f"undecodable frame: {exc}") from exc
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise DecodeError("a frame must be a map with a string 'type'")
    return value
