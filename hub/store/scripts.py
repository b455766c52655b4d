"""The hub's Lua scripts: loaded from lua/*.lua with lib.lua prepended."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis.commands.core import AsyncScript

from hub.store.client import RedisLike

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
    """The full source of a script: lib.lua followed by `name`.lua."""
    lua = resources.files("hub.store") / "lua"
    return (lua / "lib.lua").read_text("utf-8") + "\n" + (lua / f"{name}.lua").read_text("utf-8")


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
