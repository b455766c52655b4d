"""Embedded Redis: with no Redis URL, `vigie serve` runs its own redis-server (AOF
on, data in --data-dir) and stops it on exit; what it stored survives a restart."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from pathlib import Path

import h3

from tests.integration.test_cli import Served, vigie_env, vigie_serve
from tests.wire import SECRET, connect

CENTRE = (43.1839, 3.0042)
SECTOR = h3.latlng_to_cell(*CENTRE, 7)
SUBMIT = {"type": "alert.submit", "ref": "r1", "category": "fire",
          "lat": CENTRE[0], "lon": CENTRE[1], "text": "smoke from a roof"}  # fmt: skip


def embedded_redis_port(served: Served) -> int:
    """The port of the redis-server that `vigie serve` says it started."""
    found = re.search(r"embedded redis-server at redis://127\.0\.0\.1:(\d+)/", served.log_text())
    assert found, f"no embedded Redis in the log:\n{served.log_text()}"
    return int(found.group(1))


async def answers(port: int) -> bool:
    """True when something accepts connections on the port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def shut_down_orphan(port: int) -> bool:
    """Stop a redis-server that `vigie serve` left behind (SHUTDOWN saves the AOF first)."""
    if not await answers(port):
        return False
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"*1\r\n$8\r\nSHUTDOWN\r\n")
    with contextlib.suppress(OSError):
        await asyncio.wait_for(reader.read(), 10.0)  # EOF: it is gone
    writer.close()
    return True


def serve_args(data: Path) -> tuple[str, ...]:
    return ("--data-dir", str(data), "--log-level", "info")


async def test_incidents_survive_a_restart_of_vigie_serve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = vigie_env(VIGIE_SECRET=SECRET)  # and no VIGIE_REDIS_URL: the embedded one
    async with vigie_serve(*serve_args(data), cwd=tmp_path, env=env) as served:
        first_redis = embedded_redis_port(served)
        unit, _ = await connect(served.ws_url, "unit", "u1")
        await unit.expect("snapshot")
        covered = await unit.request({"type": "cover", "ref": "c", "cells": [SECTOR]})
        assert covered["type"] == "ok"
        await unit.close()
        citizen, _ = await connect(served.ws_url, "citizen", "c1")
        ack = await citizen.request(SUBMIT)
        assert ack["type"] == "alert.ack"
        await citizen.close()
        await served.stop(signal.SIGTERM)
    assert (data / "appendonly.aof").exists() or (data / "appendonlydir").is_dir()
    # Safety net: were the redis-server left behind (test_sigterm_stops_the_embedded_redis
    # fails then), stop it, so that two servers never share one data dir.
    await shut_down_orphan(first_redis)

    async with vigie_serve(*serve_args(data), cwd=tmp_path, env=env) as served:
        console, _ = await connect(served.ws_url, "console", "op")
        snapshot = await console.expect("snapshot")
        (incident,) = snapshot["incidents"]
        assert incident["id"] == ack["incident"] and incident["category"] == "fire"
        assert incident["text"] == "smoke from a roof" and incident["status"] == "open"
        assert [u["id"] for u in snapshot["units"]] == ["u1"]
        # The ref still answers with the same ack; the unit is still covered.
        citizen, _ = await connect(served.ws_url, "citizen", "c1", codec="msgpack")
        assert await citizen.request(SUBMIT) == ack
        unit, _ = await connect(served.ws_url, "unit", "u1")
        covered = await unit.expect("snapshot")
        assert [i["id"] for i in covered["incidents"]] == [ack["incident"]]
        for peer in (console, citizen, unit):
            await peer.close()
        second_redis = embedded_redis_port(served)
        # Ctrl-C stops it cleanly, embedded Redis included.
        assert await served.stop(signal.SIGINT) in (0, 130)
    assert not await answers(second_redis), "the embedded redis-server outlived vigie serve"


async def test_sigterm_stops_the_embedded_redis(tmp_path: Path) -> None:
    env = vigie_env(VIGIE_SECRET=SECRET)
    async with vigie_serve(*serve_args(tmp_path / "data"), cwd=tmp_path, env=env) as served:
        port = embedded_redis_port(served)
        code = await served.stop(signal.SIGTERM)
    orphaned = await shut_down_orphan(port)
    assert (code, orphaned) == (0, False), (
        f"vigie serve exited {code} on SIGTERM; its redis-server "
        f"{'was left running' if orphaned else 'stopped'}:\n{served.log_text()}"
    )
