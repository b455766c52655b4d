"""The hub's Lua scripts: lua/*.lua, after the generated tables and lib.lua."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.commands.core import AsyncScript

from hub.store.client import RedisLike
from hub.store.lua_tables import generated_chunk

__all__ = ["ScriptSet", "script_source"]

_NAMES = (
    "submit_alert",
    "unit_update",
    "snapshot",
    "incident_update",
    "assign",
    "assignment_end",
    "unit_incident_status",
    "merge",
    "alert_cancel",
    "incident_get",
    "notice",
    "message",
    "feedback",
    "publish",
    "corroborate",
    "neighbours_snapshot",
    "erase_incidents",
    "purge_incident",
)


@cache
def script_source(name: str) -> str:
    """The full source of a script: the generated tables, lib.lua, then `name`.lua."""
    lua = resources.files("hub.store") / "lua"
    parts = (
        generated_chunk(),
        (lua / "lib.lua").read_text("utf-8"),
        (lua / f"{name}.lua").read_text("utf-8"),
    )
    return "\n".join(parts)


class ScriptSet:
    """The registered scripts of one Redis client (EVALSHA, falling back to EVAL)."""

    def __init__(self, redis: RedisLike) -> None:
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in _NAMES
        }
        self.submit_alert = self._scripts["submit_alert"]
        self.unit_update = self._scripts["unit_update"]
        self.snapshot = self._scripts["snapshot"]

    def __getitem__(self, name: str) -> AsyncScript:
        """The script called `name` (a file lua/<name>.lua)."""
        return self._scripts[name]
