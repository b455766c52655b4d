"""The sans-I/O core imports no event loop, Redis client or web stack (style.md rule 1)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import hub.core

FORBIDDEN = ("asyncio", "redis", "starlette", "uvicorn", "websockets")


def core_modules() -> list[str]:
    return [f"hub.core.{m.name}" for m in pkgutil.iter_modules(hub.core.__path__)]


def test_core_has_the_expected_modules() -> None:
    names = set(core_modules())
    for expected in ("codec", "messages", "errors", "priority", "geo", "coverage"):
        assert f"hub.core.{expected}" in names


def test_importing_the_core_pulls_in_no_io_libraries() -> None:
    # pytest itself imports asyncio, so look at a fresh interpreter.
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = json.loads(out)
    leaked = sorted(m for m in loaded if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN))
    assert leaked == []
    assert "hub.core.messages" in loaded  # the script really imported the core
