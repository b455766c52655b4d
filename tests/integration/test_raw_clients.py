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
