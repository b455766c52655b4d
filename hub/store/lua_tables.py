"""The Lua chunk generated from the hub's Python tables, prepended to every script.

Rule: a table that Lua reads (the lifecycle states) is written once, in Python,
and reaches the scripts from here; hub/store/lua holds no state name of its own
(tests/unit/test_lua_tables.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from hub.core import lifecycle

__all__ = ["lifecycle_chunk", "lua_map", "lua_set", "lua_string"]


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
