"""The `vigie` command as a user runs it: `vigie token`, and `vigie serve`'s refusal
to start without a secret. (`serve` with workers and with its embedded Redis:
test_multiprocess.py and test_persistence.py, which use the helpers here.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import websockets

from hub.server.runner import RunningHub
from tests.wire import SECRET, open_peer

VIGIE = Path(sys.executable).with_name("vigie")  # the installed console script
START_TIMEOUT_S = 20.0


def vigie_env(**extra: str) -> dict[str, str]:
    """The test's environment without any VIGIE_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(extra)
    return env


async def run_vigie(*args: str, env: dict[str, str], timeout: float = 20.0) -> tuple[int, str, str]:
    """Run `vigie args...` to completion: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        str(VIGIE), *args, env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def http_get(port: int, path: str) -> tuple[int, Any]:
    """A bare HTTP/1.1 GET: (status, JSON body or None)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2.0)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5.0)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, None


@dataclass
class Served:
    """A running `vigie serve` process."""

    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal it (SIGTERM: as a service manager would) and wait; the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                raise AssertionError(f"vigie serve ignored SIGTERM:\n{self.log_text()}") from None
        assert self.proc.returncode is not None
        return self.proc.returncode


@contextlib.asynccontextmanager
async def vigie_serve(*args: str, cwd: Path, env: dict[str, str]) -> AsyncIterator[Served]:
    """Start `vigie serve --port <free> args...`, wait until /healthz is 200, stop it after."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            str(VIGIE), "serve", "--port", str(port), *args,
            cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    served = Served(proc, port, log)
    try:
        await _wait_healthy(served)
        yield served
    finally:
        await served.stop()


async def _wait_healthy(served: Served) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if served.proc.returncode is not None:
            raise AssertionError(f"vigie serve exited early:\n{served.log_text()}")
        with contextlib.suppress(OSError, TimeoutError, IndexError, ValueError):
            if (await http_get(served.port, "/healthz"))[0] == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"vigie serve not healthy in {START_TIMEOUT_S}s:\n{served.log_text()}")


# -- the tests --------------------------------------------------------------------------


async def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = vigie_env()
    # Given a Redis URL that nothing listens on: it must stop before reaching it.
    code, _, err = await run_vigie(
        "serve", "--port", str(free_port()), "--redis-url", "redis://127.0.0.1:9/0", env=env
    )
    assert code != 0
    assert "VIGIE_SECRET" in err and "--dev" in err
    assert "Traceback" not in err


async def test_token_prints_a_token_the_hub_accepts(hub: RunningHub) -> None:
    env = vigie_env(VIGIE_SECRET=SECRET)
    code, out, err = await run_vigie(
        "token", "--role", "unit", "--sub", "patrol-7", "--tenant", "narbonne", env=env
    )
    assert code == 0, err
    token = out.strip()
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token), out
    peer = await open_peer(hub.ws_url)
    await peer.send({"type": "hello", "token": token})
    welcome = await peer.expect("welcome")
    assert (welcome["role"], welcome["sub"], welcome["tenant"]) == ("unit", "patrol-7", "narbonne")
    await peer.close()


async def test_a_token_signed_with_another_secret_is_refused(hub: RunningHub) -> None:
    env = vigie_env(VIGIE_SECRET="not-the-hub-secret-0123456789abcdef")
    code, out, _ = await run_vigie(
        "token", "--role", "console", "--sub", "op", "--tenant", "narbonne", env=env
    )
    assert code == 0
    peer = await open_peer(hub.ws_url)
    await peer.send({"type": "hello", "token": out.strip()})
    try:
        await peer.recv()
    except websockets.ConnectionClosed as exc:
        assert exc.rcvd is not None and exc.rcvd.code == 4401
    else:
        raise AssertionError("the hub accepted a token signed with another secret")


async def test_token_refuses_without_a_secret_or_with_an_unknown_role() -> None:
    code, out, err = await run_vigie(
        "token", "--role", "unit", "--sub", "u1", "--tenant", "narbonne", env=vigie_env()
    )
    assert code != 0 and out == "" and "VIGIE_SECRET" in err
    code, out, err = await run_vigie(
        "token", "--role", "admin", "--sub", "u1", "--tenant", "narbonne",
        env=vigie_env(VIGIE_SECRET=SECRET),
    )  # fmt: skip
    assert code != 0 and out == "" and "role" in err
