"""The Lua chunk generated from the hub's Python tables, prepended to every script.

Rule: a table that Lua reads (the lifecycle states, the key scheme) is written
once, in Python, and reaches the scripts from here; hub/store/lua holds no state
name and builds no key name of its own (tests/unit/test_lua_tables.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from hub.core import lifecycle
from hub.store.keys import LIFECYCLE_KEYS, SCHEME

__all__ = ["generated_chunk", "key_chunk", "lifecycle_chunk", "lua_map", "lua_set", "lua_string"]


def lua_string(text: str) -> str:
    """`text` as a Lua string literal (the names here are plain ASCII words)."""
    if not text.isascii() or any(c in text for c in "'\\\n\r"):
        raise ValueError(f"not a plain Lua name: {text!r}")
    return f"'{text}'"


def lua_set(items: Iterable[str]) -> str:
    """A Lua table of `items` → true (membership: ``LIVE[status]``), sorted for diffs."""
    return "{" + ", ".join(f"[{lua_string(i)}] = true" for i in sorted(items)) + "}"


def lua_map(items: Mapping[str, str]) -> str:
    """A Lua table of string → string, sorted by key."""
    pairs = (f"[{lua_string(k)}] = {lua_string(v)}" for k, v in sorted(items.items()))
    return "{" + ", ".join(pairs) + "}"


def _lifecycle_values() -> dict[str, str]:
    """Lua name → Lua value of every lifecycle table the scripts read."""
    targets = {action: target for action, (_, target) in lifecycle.INCIDENT_TRANSITIONS.items()}
    return {
        "LIVE": lua_set(lifecycle.LIVE),
        "WAITING": lua_set(lifecycle.WAITING),
        "WITH_UNIT": lua_set(lifecycle.WITH_UNIT),
        "TERMINAL": lua_set(lifecycle.TERMINAL),
        "INITIAL": lua_string(lifecycle.INITIAL),
        "TARGET": lua_map(targets),
        "OFFERED": lua_string(lifecycle.OFFERED),
        "ASSIGNMENT_END": lua_map(lifecycle.ASSIGNMENT_ENDS),
        "ALERT_RECEIVED": lua_string(lifecycle.ALERT_RECEIVED),
        "ALERT_WITHDRAWN": lua_string(lifecycle.ALERT_WITHDRAWN),
        "ALERT_STATUS_FOR": lua_map(lifecycle.ALERT_STATUS_FOR),
        "STAGE_OF": lua_map(lifecycle.STAGE_OF),
        "UNIT_STATUS_AFTER": lua_map(lifecycle.UNIT_STATUS_AFTER),
        "UNIT_UNSEEN": lua_string(lifecycle.UNIT_UNSEEN),
    }


@cache
def lifecycle_chunk() -> str:
    """Lua locals holding hub.core.lifecycle's states (TARGET: each action's target)."""
    lines = ["-- Generated from hub/core/lifecycle.py by hub/store/lua_tables.py: edit there."]
    lines += [f"local {name} = {value}" for name, value in _lifecycle_values().items()]
    return "\n".join(lines) + "\n"


def _key_function(name: str, template: str) -> str:
    """``function K.name(a, b) return K.prefix .. 'x:' .. a .. ':' .. b end``."""
    parts = template.split("{}")
    params = [f"a{i}" for i in range(1, len(parts))]
    terms = ["K.prefix"]
    for i, part in enumerate(parts):
        if part:
            terms.append(lua_string(part))
        if i < len(params):
            terms.append(params[i])
    return f"function K.{name}({', '.join(params)}) return {' .. '.join(terms)} end"


@cache
def key_chunk() -> str:
    """Lua `K`: a function per SCHEME entry (the script sets K.prefix once), and
    LIFECYCLE_KEYS, the names of a lifecycle script's first KEYS."""
    lines = ["-- Generated from hub/store/keys.py by hub/store/lua_tables.py: edit there."]
    lines.append("local K = {}")
    lines += [_key_function(name, template) for name, template in SCHEME.items()]
    names = ", ".join(lua_string(n) for n in LIFECYCLE_KEYS)
    lines.append(f"local LIFECYCLE_KEYS = {{{names}}}")
    return "\n".join(lines) + "\n"


@cache
def generated_chunk() -> str:
    """Everything generated, in the order the scripts read it."""
    return lifecycle_chunk() + key_chunk()
