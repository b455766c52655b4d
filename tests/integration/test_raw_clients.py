"""The hand-written clients (bench.frames under the tests' RawSocket and the load
generator's WsClient) against a real hub whose heartbeat pings every 0.2 s: both
answer each ping, so an idle session outlives many heartbeats (uvicorn drops a
client silent for a ping timeout), and still works afterwards."""

from __future__ import annotations

import asyncio

import orjson
from bench.wsclient import OP_TEXT, open_client

from tests.conftest import HubFactory
from tests.integration.fault_tools import RawSocket, eventually
from tests.wire import token

HEARTBEAT_S = 0.2
IDLE_S = 1.5  # 7 heartbeats: without pongs the hub would have dropped the session


async def test_a_raw_socket_answers_the_hubs_pings_and_stays_connected(
    hub_factory: HubFactory,
) -> None:
    async with hub_factory(heartbeat_s=HEARTBEAT_S) as hub:
        raw = await RawSocket.open(
            hub.port, {"type": "hello", "token": token("console", "idle")}, keep=True
        )
        try:
            async with asyncio.timeout(IDLE_S):
                while await raw.receive():
                    pass
        except TimeoutError:
            pass  # idle for IDLE_S, as intended
        finally:
            raw.close()
        assert raw.reader.pings >= 3 and raw.close_code is None and not raw.eof
        assert [m["type"] for m in raw.messages] == ["welcome", "snapshot"]


async def test_the_load_generators_client_answers_the_hubs_pings_and_stays_connected(
    hub_factory: HubFactory,
) -> None:
    async with hub_factory(heartbeat_s=HEARTBEAT_S) as hub:
        ws = await open_client(hub.ws_url, "vigie.v1.json")
        received: list[dict[str, object]] = []
        ws.on_message = lambda opcode, payload: received.append(
            orjson.loads(payload) if opcode == OP_TEXT else {"binary": payload}
        )
        try:
            ws.send_text(orjson.dumps({"type": "hello", "token": token("console", "idle")}))
            await asyncio.sleep(IDLE_S)
            assert ws.is_open and ws._reader.pings >= 3
            probe = {"type": "incident.history", "ref": "still-here", "incident": "in-none"}
            ws.send_text(orjson.dumps(probe))
            await eventually(lambda: any(m.get("ref") == "still-here" for m in received), 5)
            ws.close()
            assert await asyncio.wait_for(ws.closed, 5) == 1000
        finally:
            if ws.transport is not None:
                ws.transport.abort()
        assert [m["type"] for m in received[:2]] == ["welcome", "snapshot"]


async def test_bytes_that_look_like_a_pong_in_the_middle_of_a_frame_go_to_the_parser(
    hub_factory: HubFactory,
) -> None:
    """The hub skips websockets' parser for a lone empty pong only between frames:
    here the six bytes of a pong are the masking key and payload of a text frame
    whose two-byte header came first, while a ping waits for its answer."""
    async with hub_factory(heartbeat_s=1.0) as hub:
        raw = await RawSocket.open(
            hub.port, {"type": "hello", "token": token("console", "split")}, keep=True
        )
        loop = asyncio.get_running_loop()

        async def read_once() -> None:  # what arrived, without answering the pings
            for _, data in raw.reader.feed(await loop.sock_recv(raw.sock, 65536)):
                raw.messages.append(orjson.loads(data))

        try:
            async with asyncio.timeout(5):
                while raw.reader.pings == 0:
                    await read_once()
            await loop.sock_sendall(raw.sock, bytes([0x80 | OP_TEXT, 0x80 | 2]))
            await asyncio.sleep(0.05)  # its own segment, its own data_received
            mask = bytes([0x8A, 0x80, 0, 0])  # a pong's first two bytes, then two zeros
            payload = bytes(b ^ m for b, m in zip(b"{}", mask, strict=False))
            await loop.sock_sendall(raw.sock, mask + payload)
            async with asyncio.timeout(0.6):  # within the ping's period: before any drop
                while not any(m.get("type") == "error" for m in raw.messages):
                    await read_once()
        finally:
            raw.close()
        assert [m["type"] for m in raw.messages[:2]] == ["welcome", "snapshot"]
        assert raw.messages[-1]["type"] == "error"  # "{}" was read as the message it is
