"""Configuration: TOML files in config/, overridden by VIGIE_* environment variables.

This module owns every tunable value of the hub. It reads files and the
environment once, at start-up, and hands out frozen dataclasses.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CONFIG",
    "Category",
    "Config",
    "ConfigError",
    "HubSettings",
    "Rate",
    "Sector",
    "TenantConfig",
    "load_config",
    "parse_rate",
]

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "narbonne.toml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` events per `per_s` seconds; `count == 0` means unlimited."""

    count: int
    per_s: float

    @property
    def unlimited(self) -> bool:
        """True when this rate never limits."""
        return self.count == 0


UNLIMITED = Rate(0, 1.0)


def parse_rate(text: str, key: str = "rate") -> Rate:
    """Parse `"N/S"` (N per S seconds) or `"0"`/`"off"` (unlimited)."""
    text = text.strip().lower()
    if text in ("0", "off", "none"):
        return UNLIMITED
    try:
        count_s, per_s = text.split("/", 1)
        rate = Rate(int(count_s), float(per_s))
    except ValueError as exc:
        raise ConfigError(f"{key}: expected 'N/SECONDS' or '0', got {text!r}") from exc
    if rate.count < 0 or rate.per_s <= 0:
        raise ConfigError(f"{key}: count must be >= 0 and seconds > 0, got {text!r}")
    return rate


@dataclass(frozen=True, slots=True)
class Category:
    """An alert category: its id is part of the wire contract."""

    id: str
    priority: int
    label_fr: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Sector:
    """A named patrol sector: the H3 cell at `resolution` containing a point."""

    name: str
    lat: float
    lon: float
    resolution: int


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """One town served by the hub."""

    id: str
    name: str
    area: tuple[tuple[float, float], ...]
    categories: Mapping[str, Category]
    sectors: Mapping[str, Sector] = field(default_factory=dict)
    group_k: int = 1
    group_window_s: int = 1800
    cover_k: int = 1
    alert_rate_limit: Rate = Rate(5, 600.0)
    text_max_chars: int = 1000
    timezone: str = "Europe/Paris"
    assignment_timeout_s: int = 60
    auto_dispatch: bool = False
    retention_days: int = 90


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Process-wide settings."""

    h3_resolution: int = 9
    heartbeat_s: float = 20.0
    hello_timeout_s: float = 10.0
    max_frame_bytes: int = 65536
    stream_maxlen: int = 100_000
    inbox_maxlen: int = 1000
    idempotency_ttl_s: int = 86_400
    outbox_max_messages: int = 1024
    outbox_max_bytes: int = 1 << 20
    session_msg_rate: Rate = Rate(50, 1.0)
    connections_per_ip: int = 5000
    connections_per_token: int = 8
    connect_rate: Rate = Rate(500, 1.0)
    limits_off: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: hub settings and the towns served."""

    hub: HubSettings
    tenants: Mapping[str, TenantConfig]
    source: str = "<memory>"

    def tenant(self, tenant_id: str) -> TenantConfig | None:
        """The tenant with this id, or None if the hub does not serve it."""
        return self.tenants.get(tenant_id)


def _category(cid: str, raw: Mapping[str, Any]) -> Category:
    prio = int(raw["priority"])
    if not 1 <= prio <= 5:
        raise ConfigError(f"categories.{cid}.priority must be 1..5, got {prio}")
    return Category(cid, prio, str(raw.get("fr", cid)), str(raw.get("en", cid)))


def _tenant(tid: str, raw: Mapping[str, Any], hub: HubSettings) -> TenantConfig:
    area = tuple((float(p[0]), float(p[1])) for p in raw.get("area", ()))
    if len(area) < 3:
        raise ConfigError(f"tenants.{tid}.area needs at least 3 [lat, lon] points")
    cats = {cid: _category(cid, c) for cid, c in raw.get("categories", {}).items()}
    if not cats:
        raise ConfigError(f"tenants.{tid}.categories is empty")
    sectors = {
        name: Sector(name, float(s["lat"]), float(s["lon"]), int(s.get("resolution", 7)))
        for name, s in raw.get("sectors", {}).items()
    }
    for s in sectors.values():
        if not 0 <= s.resolution <= hub.h3_resolution:
            raise ConfigError(f"tenants.{tid}.sectors.{s.name}: resolution out of range")
    return TenantConfig(
        id=tid,
        name=str(raw.get("name", tid)),
        area=area,
        categories=cats,
        sectors=sectors,
        group_k=int(raw.get("group_k", 1)),
        group_window_s=int(raw.get("group_window_s", 1800)),
        cover_k=int(raw.get("cover_k", 1)),
        alert_rate_limit=parse_rate(str(raw.get("alert_rate_limit", "5/600")), "alert_rate_limit"),
        text_max_chars=int(raw.get("text_max_chars", 1000)),
        timezone=str(raw.get("timezone", "Europe/Paris")),
        assignment_timeout_s=int(raw.get("assignment_timeout_s", 60)),
        auto_dispatch=bool(raw.get("auto_dispatch", False)),
        retention_days=int(raw.get("retention_days", 90)),
    )


_HUB_RATES = {"session_msg_rate", "connect_rate"}


def _hub(raw: Mapping[str, Any]) -> HubSettings:
    known = set(HubSettings.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[hub]: unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        values[key] = parse_rate(str(value), key) if key in _HUB_RATES else value
    hub = HubSettings(**values)
    if not 0 <= hub.h3_resolution <= 15:
        raise ConfigError("[hub] h3_resolution must be 0..15")
    return hub


def _apply_env(config: Config, env: Mapping[str, str]) -> Config:
    """Environment overrides: VIGIE_ALERT_RATE_LIMIT and VIGIE_LIMITS=off."""
    hub, tenants = config.hub, dict(config.tenants)
    if "VIGIE_ALERT_RATE_LIMIT" in env:
        rate = parse_rate(env["VIGIE_ALERT_RATE_LIMIT"], "VIGIE_ALERT_RATE_LIMIT")
        tenants = {k: replace(t, alert_rate_limit=rate) for k, t in tenants.items()}
    if env.get("VIGIE_LIMITS", "").strip().lower() in ("off", "0", "false", "no"):
        # Load tests: every abuse limit off at once (the hub logs this loudly).
        hub = replace(
            hub,
            session_msg_rate=UNLIMITED,
            connect_rate=UNLIMITED,
            connections_per_ip=0,
            connections_per_token=0,
            limits_off=True,
        )
        tenants = {k: replace(t, alert_rate_limit=UNLIMITED) for k, t in tenants.items()}
    return replace(config, hub=hub, tenants=tenants)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load a TOML config (default: VIGIE_CONFIG, else config/narbonne.toml)."""
    env = os.environ if env is None else env
    path = Path(path or env.get("VIGIE_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    hub = _hub(raw.get("hub", {}))
    tenants = {tid: _tenant(tid, t, hub) for tid, t in raw.get("tenants", {}).items()}
    if not tenants:
        raise ConfigError(f"{path}: no [tenants.*] table")
    return _apply_env(Config(hub, tenants, str(path)), env)
