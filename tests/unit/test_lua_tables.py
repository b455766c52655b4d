"""The Lua scripts read the lifecycle states from the generated chunk, never their own copy."""

from __future__ import annotations

import re
from importlib import resources

from hub.core import lifecycle
from hub.core.messages import UNIT_STATUSES
from hub.store.lua_tables import lifecycle_chunk

STATE_NAMES = (
    lifecycle.LIVE
    | lifecycle.TERMINAL
    | {lifecycle.OFFERED, lifecycle.ALERT_RECEIVED, lifecycle.ALERT_WITHDRAWN}
    | set(lifecycle.ASSIGNMENT_ENDS.values())
    | set(lifecycle.ALERT_STATUS_FOR.values())
    | set(UNIT_STATUSES)
)
LOCAL = re.compile(r"^local (\w+) = (.*)$")
PAIR = re.compile(r"\['([^']*)'\] = (true|'[^']*')")


def _lua_sources() -> dict[str, str]:
    lua = resources.files("hub.store") / "lua"
    return {f.name: f.read_text("utf-8") for f in lua.iterdir() if f.name.endswith(".lua")}


def _parsed_chunk() -> dict[str, object]:
    """Each generated local, read back: a set, a dict or a string."""
    values: dict[str, object] = {}
    for line in lifecycle_chunk().splitlines():
        m = LOCAL.match(line)
        if not m:
            assert line.startswith("--"), line
            continue
        name, value = m.groups()
        if value.startswith("{"):
            pairs = PAIR.findall(value)
            assert len(pairs) == value.count("=")
            if all(v == "true" for _, v in pairs):
                values[name] = {k for k, _ in pairs}
            else:
                values[name] = {k: v.strip("'") for k, v in pairs}
        else:
            values[name] = value.strip("'")
    return values


def test_no_state_name_is_written_in_the_lua_files() -> None:
    found = []
    for name, text in _lua_sources().items():
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("--", 1)[0]
            code = re.sub(r"prefix \.\. '\w+'", "", code)  # a key name (the queue's 'open')
            for literal in re.findall(r"'([^']*)'|\"([^\"]*)\"", code):
                word = literal[0] or literal[1]
                if word in STATE_NAMES:
                    found.append(f"{name}:{number}: {word!r}")
    assert found == []


def test_the_generated_chunk_is_the_python_tables() -> None:
    targets = {a: t for a, (_, t) in lifecycle.INCIDENT_TRANSITIONS.items()}
    assert _parsed_chunk() == {
        "LIVE": set(lifecycle.LIVE),
        "WAITING": set(lifecycle.WAITING),
        "WITH_UNIT": set(lifecycle.WITH_UNIT),
        "TERMINAL": set(lifecycle.TERMINAL),
        "INITIAL": lifecycle.INITIAL,
        "TARGET": targets,
        "OFFERED": lifecycle.OFFERED,
        "ASSIGNMENT_END": lifecycle.ASSIGNMENT_ENDS,
        "ALERT_RECEIVED": lifecycle.ALERT_RECEIVED,
        "ALERT_WITHDRAWN": lifecycle.ALERT_WITHDRAWN,
        "ALERT_STATUS_FOR": lifecycle.ALERT_STATUS_FOR,
        "STAGE_OF": lifecycle.STAGE_OF,
        "UNIT_STATUS_AFTER": lifecycle.UNIT_STATUS_AFTER,
        "UNIT_UNSEEN": lifecycle.UNIT_UNSEEN,
    }


def test_every_script_starts_with_the_generated_chunk() -> None:
    from hub.store.scripts import _NAMES, script_source

    for name in _NAMES:
        assert script_source(name).startswith(lifecycle_chunk())
