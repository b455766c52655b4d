"""The keys of the ids a lifecycle script's caller names, in the order it reads them.

A lifecycle script's KEYS are the tenant's LIFECYCLE_KEYS, then these (its
`subject`, listed in each script's header), then a ref's reply key
(hub.store.dispatch). Keys found in the data while the script runs are built
in Lua from the generated scheme (hub/store/keys.py says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from hub.store.keys import TenantKeys

__all__ = ["SUBJECTS", "subject_keys"]

Params = Mapping[str, Any]


def _message(k: TenantKeys, p: Params) -> list[str]:
    if p["mode"] == "reply":
        return [p["rate_key"], k.alert(p["alert"])]
    alert = [k.alert(p["alert"])] if p.get("alert") else []
    return [p["rate_key"], k.incident(p["incident"]), *alert]


def _corroborate(k: TenantKeys, p: Params) -> list[str]:
    day = [k.stats_day(p["stats_day"])] if p.get("stats_day") else []
    return [k.incident(p["incident"]), p["rate_key"], *day]


SUBJECTS: Final[dict[str, Callable[[TenantKeys, Params], list[str]]]] = {
    "alert_cancel": lambda k, p: [k.alert(p["alert"])],
    "assign": lambda k, p: [k.incident(p["incident"]), k.unit(p["unit"])],
    "assignment_end": lambda k, p: [k.assignment(p["assignment"])],
    "corroborate": _corroborate,
    "feedback": lambda k, p: [k.alert(p["alert"])],
    "incident_update": lambda k, p: [k.incident(p["incident"])],
    "merge": lambda k, p: [k.incident(i) for i in (p["into"], *p["from"])],
    "message": _message,
    "notice": lambda k, p: [],
    "publish": lambda k, p: [k.incident(p["incident"])],
    "unit_incident_status": lambda k, p: [k.incident(p["incident"]), k.unit(p["unit"])],
}


def _incidents_named(params: Params) -> list[str]:
    """The incident ids a lifecycle script's params name (`incident`, `into`, `from`)."""
    named = [params[name] for name in ("incident", "into") if params.get(name)]
    return named + list(params.get("from", ()))


def subject_keys(script: str, keys: TenantKeys, params: Params) -> list[str]:
    """The keys of the ids that `params` of lifecycle script `script` name.

    SUBJECTS first (the script reads them by position), then the reporters, alert
    list and trail of each incident named: declared, and built in Lua by K.
    """
    companions = [
        key
        for i in _incidents_named(params)
        for key in (keys.incident_reporters(i), keys.incident_alerts(i), keys.history(i))
    ]
    return SUBJECTS[script](keys, params) + companions
