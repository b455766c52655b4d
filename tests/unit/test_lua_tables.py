"""The Lua scripts read the lifecycle states from the generated chunk, never their own copy."""

from __future__ import annotations

import re
from importlib import resources

from hub.core import lifecycle
from hub.core.messages import UNIT_STATUSES
from hub.store.keys import LIFECYCLE_KEYS, SCHEME, TenantKeys
from hub.store.lua_tables import generated_chunk, key_chunk, lifecycle_chunk
from hub.store.scripts import _NAMES, script_source

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

    for name in _NAMES:
        assert script_source(name).startswith(generated_chunk())


# A key name built by hand: the prefix, or a key with a suffix glued on.
KEY_BUILDING = re.compile(r"prefix\s*\.\.|key\s*\.\.\s*'")


def test_no_key_name_is_built_in_the_lua_files() -> None:
    found = []
    for name, text in _lua_sources().items():
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("--", 1)[0]
            if KEY_BUILDING.search(code):
                found.append(f"{name}:{number}: {code.strip()}")
    assert found == []


KEY_FUNCTION = re.compile(r"^function K\.(\w+)\(([\w, ]*)\) return K\.prefix((?: \.\. \S+)*) end$")


def _lua_key(terms: str, args: list[str], ids: list[str]) -> str:
    """What a generated K function returns for `ids`, read from its Lua text."""
    out = ""
    for term in terms.split(" .. ")[1:]:
        out += term.strip("'") if term.startswith("'") else ids[args.index(term)]
    return out


def test_the_generated_key_functions_build_the_python_names() -> None:
    keys = TenantKeys("nar{bonne}")
    built = {}
    for line in key_chunk().splitlines():
        m = KEY_FUNCTION.match(line)
        if m:
            name, params, terms = m.groups()
            args = [a.strip() for a in params.split(",") if a.strip()]
            ids = ["x1", "y:2"][: len(args)]
            built[name] = keys.prefix + _lua_key(terms, args, ids)
            assert built[name] == getattr(keys, name)(*ids)
    assert set(built) == set(SCHEME)
    assert f"local LIFECYCLE_KEYS = {{{', '.join(repr(n) for n in LIFECYCLE_KEYS)}}}" in key_chunk()
