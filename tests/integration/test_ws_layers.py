"""Both WebSocket layers (uvicorn's and the hub's own) against a real hub: the same
handshake, limits and close codes, and request heads bounded in time (slowloris)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.config import Config
from hub.server.http import REQUEST_HEAD_TIMEOUT_S
from hub.server.runner import running_hub
from hub.server.websocket import HubWebSocketProtocol
from tests.wire import SECRET, token

LAYERS = ["uvicorn", "hub"]


async def _closed_after(port: int, data: bytes, within_s: float) -> float:
    """Send `data`, then nothing; seconds until the server closed the socket."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(data)
    await writer.drain()
    try:
        async with asyncio.timeout(within_s):
            while await reader.read(4096):
                pass
    finally:
        writer.close()
    return time.monotonic() - started


HALF_HEADS = {
    "half a request line": b"GET /ws HTT",
    "headers without their end": b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n",
    "nothing": b"",
}


@pytest.mark.parametrize("ws", LAYERS)
async def test_a_client_that_sends_half_a_request_head_is_closed_within_seconds(
    redis_url: str, config: Config, ws: str
) -> None:
    # The three at once: each waits out the deadline, and they must not hold each other up.
    async with running_hub(config, redis_url, SECRET, ws=ws) as hub:
        took = await asyncio.gather(
            *(
                _closed_after(hub.port, head, REQUEST_HEAD_TIMEOUT_S + 5)
                for head in HALF_HEADS.values()
            )
        )
    assert all(t < REQUEST_HEAD_TIMEOUT_S + 3 for t in took), dict(
        zip(HALF_HEADS, took, strict=True)
    )


@pytest.mark.parametrize("ws", LAYERS)
async def test_the_same_handshake_limits_and_codes_on_both_layers(
    redis_url: str, config: Config, ws: str
) -> None:
    async with running_hub(config, redis_url, SECRET, ws=ws) as hub:
        with pytest.raises(InvalidStatus) as refused:  # no v1 subprotocol among those offered
            await websockets.connect(hub.ws_url, subprotocols=["chat"])  # type: ignore[list-item]
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):  # not the WebSocket path
            await websockets.connect(f"ws://127.0.0.1:{hub.port}/nope")

        async with websockets.connect(hub.ws_url, subprotocols=["vigie.v1.json"]) as conn:  # type: ignore[list-item]
            assert conn.subprotocol == "vigie.v1.json"
            await conn.send(orjson.dumps({"type": "hello", "token": token("console", "c1")}))
            assert orjson.loads(await conn.recv())["type"] == "welcome"
            if ws == "hub":
                kinds = {type(c) for c in hub.server.server_state.connections}
                assert HubWebSocketProtocol in kinds
            await conn.send(b"x" * (64 * 1024 + 1))  # over the frame limit
            with pytest.raises(ConnectionClosed):
                while True:
                    await conn.recv()
            assert conn.close_code == 1009

        async with websockets.connect(hub.ws_url) as conn:  # no subprotocol: JSON
            await conn.send("{not json")
            with pytest.raises(ConnectionClosed):
                await conn.recv()
            assert conn.close_code == 4400

        async with websockets.connect(hub.ws_url) as conn:
            await conn.send(orjson.dumps({"type": "hello", "token": "nope"}))
            with pytest.raises(ConnectionClosed):
                await conn.recv()
            assert conn.close_code == 4401
