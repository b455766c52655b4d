"""Configuration: TOML files in config/, overridden by VIGIE_* environment variables.

This module owns every tunable value of the hub. It reads files and the
environment once, at start-up, and hands out frozen dataclasses.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.core.geo import cell_of
from hub.core.messages import NOTICE_EXPIRES_MAX_S, NOTICE_EXPIRES_MIN_S, TEXT_MAX

__all__ = [
    "DEFAULT_CONFIG",
    "AuthSettings",
    "Category",
    "Config",
    "ConfigError",
    "HubSettings",
    "Open311Endpoint",
    "Open311Partner",
    "Open311Service",
    "Open311Settings",
    "Rate",
    "Retention",
    "Sector",
    "StatsSettings",
    "TenantConfig",
    "Tiles",
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
    if rate.count < 0 or not 0 < rate.per_s < math.inf:
        raise ConfigError(f"{key}: count must be >= 0 and seconds finite and > 0, got {text!r}")
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

    @property
    def cell(self) -> str:
        """The sector's H3 cell (what a unit covering the sector sends in `cover`)."""
        return cell_of(self.lat, self.lon, self.resolution)


@dataclass(frozen=True, slots=True)
class Open311Partner:
    """A partner allowed to post Open311 requests (a FixMyStreet site, a city app).

    `api_key` comes from the environment or a file, never from the TOML itself;
    None (the variable is unset) refuses every post of the partner with 403.
    """

    name: str
    api_key: str | None = field(default=None, repr=False)
    rate_limit: Rate = Rate(120, 60.0)
    key_source: str = ""  # where the key is read from (a variable's name, a path): for logs


@dataclass(frozen=True, slots=True)
class Open311Service:
    """How a category reads in the Open311 service list (in the tenant's language)."""

    group: str | None = None
    keywords: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Open311Settings:
    """A tenant's Open311 GeoReport v2 endpoint (`[tenants.<id>.open311]`)."""

    jurisdiction_id: str
    partners: Mapping[str, Open311Partner] = field(default_factory=dict)
    services: Mapping[str, Open311Service] = field(default_factory=dict)
    contact: str = ""
    key_service: str = ""


# Response targets by priority (seconds, received → a unit on scene or the end):
# what the statistics' "share handled within target" measures. The town sets its own.
DEFAULT_TARGETS_S: Mapping[int, int] = {1: 600, 2: 1200, 3: 3600, 4: 7200, 5: 86_400}


@dataclass(frozen=True, slots=True)
class Open311Endpoint:
    """The `/open311/v2/` endpoint as a whole (`[open311]`), whichever town is asked.

    `get_rate_limit` bounds the public GETs per client address (per process):
    `"60/60"` is a burst of 60, then one a second. POSTs have their partner's.
    """

    get_rate_limit: Rate = Rate(60, 60.0)


@dataclass(frozen=True, slots=True)
class StatsSettings:
    """A tenant's statistics (`[tenants.<id>.stats]`, docs/statistics.md)."""

    targets_s: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_TARGETS_S))
    retention_days: int = 400  # aggregates hold no person: kept longer than alerts
    recurrence_days: int = 7  # "4th noise incident in this area in 7 days"
    recurring_weeks: int = 3  # a cell's category that came back in this many weeks


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of record is kept, in days (`[tenants.<id>.retention]`).

    One row per kind; docs/privacy.md says what each holds and who reads it.
    Idempotency records are hub-wide (`[hub] idempotency_ttl_s`): the protocol's
    retry contract depends on them, not the town.
    """

    incidents_days: int = 90  # closed incidents and their alerts (reporters' data)
    audit_days: int = 90  # a closed incident's audit trail
    inbox_days: int = 90  # personal inboxes (alert statuses, assignments)
    open311_days: int = 90  # the index of Open311 requests by time
    events_days: int = 7  # the tenant event stream (resume history: positions, texts)
    unit_positions_days: int = 7  # a unit's last known position, once it stops sending
    erasure_log_days: int = 1825  # the log of right-to-erasure requests carried out


@dataclass(frozen=True, slots=True)
class Tiles:
    """A raster tile server for the web apps' maps (none by default: no outside host)."""

    url: str  # https://host/{z}/{x}/{y}.png, Leaflet's template
    attribution: str

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the tile server, for the pages' CSP img-src."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


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
    retention: Retention = Retention()
    language: str = "fr"  # of the texts the hub writes for the town (Open311 service names)
    # H3 resolutions of what each audience but consoles and covering units sees:
    public_resolution: int = 7  # the public (Open311 GET answers, feeds): ~5 km²
    notice_resolution: int = 7  # the cells of a notice as residents receive it
    open311: Open311Settings | None = None  # None: no /open311/v2/ for this town
    cap_sender: str = ""  # CAP `sender`, e.g. vigie@narbonne.fr; "" = vigie@<id>.invalid
    eido_agency: str = ""  # EIDO agency id (a domain), e.g. narbonne.fr; "" = <id>.invalid
    notice_expires_s: int = 86_400  # a notice without `expires_s` is current this long
    stats: StatsSettings = StatsSettings()
    neighbours_publish: tuple[str, ...] = ()  # categories published to neighbours at once
    emergency: str = "17 / 112"  # shown by the citizen app: emergencies are not for Vigie
    tiles: Tiles | None = None

    @property
    def retention_days(self) -> int:
        """Days closed incidents and their alerts are kept (`retention.incidents_days`)."""
        return self.retention.incidents_days


@dataclass(frozen=True, slots=True)
class HubSettings:
    """Process-wide settings."""

    h3_resolution: int = 9
    heartbeat_s: float = 25.0
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
    # Replicas that must have a write before it is acked (hub.store.replication):
    # None ("auto") is 1 while the primary has a replica online, else 0.
    ack_replicas: int | None = None
    ack_timeout_ms: int = 1000  # WAIT's timeout; below the Redis call timeout (5 s)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Who may sign session tokens besides the hub's own HS256 secret.

    `jwks` is a file path or an http(s) URL of the identity provider's JSON Web
    Key Set; tokens it signs (RS256 / ES256) must carry `issuer` and `audience`.
    `hs256 = false` refuses the shared-secret tokens (identity provider only).
    """

    jwks: str | None = None
    issuer: str | None = None
    audience: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_refresh_s: float = 300.0
    hs256: bool = True


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: hub settings and the towns served."""

    hub: HubSettings
    tenants: Mapping[str, TenantConfig]
    source: str = "<memory>"
    auth: AuthSettings = AuthSettings()
    open311: Open311Endpoint = Open311Endpoint()

    def tenant(self, tenant_id: str) -> TenantConfig | None:
        """The tenant with this id, or None if the hub does not serve it."""
        return self.tenants.get(tenant_id)


# -- typed readers: a bad value raises ConfigError naming its key ---------------------


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table, got {value!r}")
    return value


def _int(raw: Mapping[str, Any], key: str, where: str, default: int, lo: int, hi: int) -> int:
    value = raw.get(key, default)
    # TOML has real integers and booleans: 9.0, "9" and true are mistakes, not 9.
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{where}.{key} must be an integer in {lo}..{hi}, got {value!r}")
    return value


def _float(raw: Mapping[str, Any], key: str, where: str, default: float, lo: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key} must be a number, got {value!r}")
    if not math.isfinite(value) or value < lo:
        raise ConfigError(f"{where}.{key} must be a finite number >= {lo}, got {value!r}")
    return float(value)


def _text(raw: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key} must be a string, got {value!r}")
    return value


def _flag(raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):  # bool("false") is True
        raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def _rate(raw: Mapping[str, Any], key: str, where: str, default: str) -> Rate:
    return parse_rate(str(raw.get(key, default)), f"{where}.{key}")


def _point(point: Any, where: str) -> tuple[float, float]:
    if not isinstance(point, list) or len(point) != 2:
        raise ConfigError(f"{where}: each point must be [lat, lon], got {point!r}")
    pair = {"lat": point[0], "lon": point[1]}
    return (_float(pair, "lat", where, 0, -90), _float(pair, "lon", where, 0, -180))


def _area(raw: Mapping[str, Any], where: str) -> tuple[tuple[float, float], ...]:
    points = raw.get("area", [])
    if not isinstance(points, list) or len(points) < 3:
        raise ConfigError(f"{where}.area needs at least 3 [lat, lon] points")
    area = tuple(_point(p, f"{where}.area") for p in points)
    if any(lat > 90 or lon > 180 for lat, lon in area):
        raise ConfigError(f"{where}.area: a point is out of range")
    return area


def _category(cid: str, value: Any, where: str) -> Category:
    where = f"{where}.categories.{cid}"
    raw = _table(value, where)
    if "priority" not in raw:
        raise ConfigError(f"{where}.priority is required")
    prio = _int(raw, "priority", where, 0, 1, 5)
    return Category(cid, prio, _text(raw, "fr", where, cid), _text(raw, "en", where, cid))


def _sector(name: str, value: Any, where: str, hub: HubSettings) -> Sector:
    where = f"{where}.sectors.{name}"
    raw = _table(value, where)
    if "lat" not in raw or "lon" not in raw:
        raise ConfigError(f"{where} needs lat and lon")
    return Sector(
        name,
        _float(raw, "lat", where, 0, -90),
        _float(raw, "lon", where, 0, -180),
        _int(raw, "resolution", where, 7, 0, hub.h3_resolution),
    )


def _tiles(value: Any, where: str) -> Tiles | None:
    if value is None:
        return None
    raw = _table(value, f"{where}.tiles")
    url = _text(raw, "url", f"{where}.tiles", "")
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    # The host goes into the pages' Content-Security-Policy: nothing that could end it.
    if scheme not in ("http", "https") or not host or any(c in host for c in " ;,'\"\t"):
        raise ConfigError(f"{where}.tiles.url must be an http(s) URL template, got {url!r}")
    return Tiles(url, _text(raw, "attribution", f"{where}.tiles", ""))


LANGUAGES = ("fr", "en")  # the category labels the config carries
OPEN311_KEY_MIN = 16


def _partner_key(
    name: str, raw: Mapping[str, Any], where: str, env: Mapping[str, str]
) -> str | None:
    sources = [k for k in ("api_key_env", "api_key_file") if k in raw]
    if len(sources) != 1:
        raise ConfigError(f"{where} needs exactly one of api_key_env, api_key_file")
    if sources == ["api_key_env"]:
        key: str | None = env.get(_text(raw, "api_key_env", where, "")) or None
    else:
        path = Path(_text(raw, "api_key_file", where, ""))
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where}.api_key_file: cannot read {path}: {exc}") from exc
    if key is not None and len(key) < OPEN311_KEY_MIN:
        raise ConfigError(f"{where}: the api key of {name} is shorter than {OPEN311_KEY_MIN}")
    return key


def _partner(name: str, value: Any, where: str, env: Mapping[str, str]) -> Open311Partner:
    where = f"{where}.partners.{name}"
    raw = _table(value, where)
    key = _partner_key(name, raw, where, env)
    source = str(raw.get("api_key_env") or raw.get("api_key_file"))
    return Open311Partner(name, key, _rate(raw, "rate_limit", where, "120/60"), source)


def _service(cid: str, value: Any, where: str) -> Open311Service:
    where = f"{where}.services.{cid}"
    raw = _table(value, where)
    texts = {k: _text(raw, k, where, "") or None for k in ("group", "keywords", "description")}
    return Open311Service(**texts)


def _open311(
    value: Any, where: str, cats: Mapping[str, Category], env: Mapping[str, str]
) -> Open311Settings:
    tid, where = where.split(".")[1], f"{where}.open311"
    raw = _table(value, where)
    partners = _table(raw.get("partners", {}), f"{where}.partners")
    services = _table(raw.get("services", {}), f"{where}.services")
    unknown = set(services) - set(cats)
    if unknown:
        raise ConfigError(f"{where}.services: not categories: {sorted(unknown)}")
    return Open311Settings(
        jurisdiction_id=_text(raw, "jurisdiction_id", where, tid),
        partners={name: _partner(name, p, where, env) for name, p in partners.items()},
        services={cid: _service(cid, s, where) for cid, s in services.items()},
        contact=_text(raw, "contact", where, ""),
        key_service=_text(raw, "key_service", where, ""),
    )


def _tenant(tid: str, value: Any, hub: HubSettings, env: Mapping[str, str]) -> TenantConfig:
    where = f"tenants.{tid}"
    raw = _table(value, where)
    categories = _table(raw.get("categories", {}), f"{where}.categories")
    cats = {cid: _category(cid, c, where) for cid, c in categories.items()}
    if not cats:
        raise ConfigError(f"{where}.categories is empty")
    sectors = _table(raw.get("sectors", {}), f"{where}.sectors")
    return TenantConfig(
        id=tid,
        name=_text(raw, "name", where, tid),
        area=_area(raw, where),
        categories=cats,
        sectors={name: _sector(name, s, where, hub) for name, s in sectors.items()},
        group_k=_int(raw, "group_k", where, 1, 0, 10),
        group_window_s=_int(raw, "group_window_s", where, 1800, 1, 7 * 86_400),
        cover_k=_int(raw, "cover_k", where, 1, 0, 10),
        alert_rate_limit=_rate(raw, "alert_rate_limit", where, "5/600"),
        text_max_chars=_int(raw, "text_max_chars", where, TEXT_MAX, 1, TEXT_MAX),
        timezone=_timezone(raw, where),
        assignment_timeout_s=_int(raw, "assignment_timeout_s", where, 60, 1, 86_400),
        auto_dispatch=_flag(raw, "auto_dispatch", where, False),
        retention=_retention(raw, where),
        language=_language(raw, where),
        **_resolutions(raw, where, hub),
        open311=_open311(raw["open311"], where, cats, env) if "open311" in raw else None,
        cap_sender=_no_space(raw, "cap_sender", where),
        eido_agency=_no_space(raw, "eido_agency", where),
        notice_expires_s=_int(
            raw, "notice_expires_s", where, 86_400, NOTICE_EXPIRES_MIN_S, NOTICE_EXPIRES_MAX_S
        ),
        emergency=_text(raw, "emergency", where, "17 / 112"),
        tiles=_tiles(raw.get("tiles"), where),
        stats=_stats(raw.get("stats", {}), f"{where}.stats"),
        neighbours_publish=_categories(raw, "neighbours_publish", where, cats),
    )


def _categories(
    raw: Mapping[str, Any], key: str, where: str, cats: Mapping[str, Category]
) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ConfigError(f"{where}.{key} must be a list of category ids")
    unknown = sorted(set(value) - set(cats))
    if unknown:
        raise ConfigError(f"{where}.{key}: not categories: {unknown}")
    return tuple(value)


def _stats(value: Any, where: str) -> StatsSettings:
    raw = _table(value, where)
    unknown = set(raw) - set(StatsSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    targets = dict(DEFAULT_TARGETS_S)
    for name, seconds in _table(raw.get("targets_s", {}), f"{where}.targets_s").items():
        if name not in {"1", "2", "3", "4", "5"}:
            raise ConfigError(f"{where}.targets_s: keys are priorities 1..5, got {name!r}")
        targets[int(name)] = _int({name: seconds}, name, f"{where}.targets_s", 0, 1, 30 * 86_400)
    return StatsSettings(
        targets_s=targets,
        retention_days=_int(raw, "retention_days", where, 400, 1, 36_500),
        recurrence_days=_int(raw, "recurrence_days", where, 7, 1, 90),
        recurring_weeks=_int(raw, "recurring_weeks", where, 3, 1, 52),
    )


_DAYS_MAX = 36_500
_FOLLOW_INCIDENTS = ("incidents_days", "audit_days", "inbox_days", "open311_days")


def _retention(raw: Mapping[str, Any], where: str) -> Retention:
    """`[retention]`, with the older top-level `retention_days` as `incidents_days`."""
    table = dict(_table(raw.get("retention", {}), f"{where}.retention"))
    unknown = set(table) - set(Retention.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{where}.retention: unknown keys {sorted(unknown)}")
    if "retention_days" in raw:
        if "incidents_days" in table:
            raise ConfigError(f"{where}: set retention_days or retention.incidents_days, not both")
        table["incidents_days"] = _int(raw, "retention_days", where, 90, 1, _DAYS_MAX)
    here = f"{where}.retention"
    incidents = _int(table, "incidents_days", here, 90, 1, _DAYS_MAX)
    # What follows an incident's life lasts as long as the incident unless told otherwise.
    defaults = {**asdict(Retention()), **dict.fromkeys(_FOLLOW_INCIDENTS, incidents)}
    return Retention(
        **{key: _int(table, key, here, value, 1, _DAYS_MAX) for key, value in defaults.items()}
    )


_AUDIENCES = ("public_resolution", "notice_resolution")


def _resolutions(raw: Mapping[str, Any], where: str, hub: HubSettings) -> dict[str, int]:
    """`[privacy]` resolutions per audience; the older top-level `public_resolution` too."""
    table = dict(_table(raw.get("privacy", {}), f"{where}.privacy"))
    unknown = set(table) - set(_AUDIENCES)
    if unknown:
        raise ConfigError(f"{where}.privacy: unknown keys {sorted(unknown)}")
    if "public_resolution" in raw:
        if "public_resolution" in table:
            raise ConfigError(f"{where}: set public_resolution or privacy.public_resolution")
        table["public_resolution"] = raw["public_resolution"]
    here, top = f"{where}.privacy", min(7, hub.h3_resolution)
    public = _int(table, "public_resolution", here, top, 0, hub.h3_resolution)
    notice = _int(table, "notice_resolution", here, public, 0, hub.h3_resolution)
    return {"public_resolution": public, "notice_resolution": notice}


def _timezone(raw: Mapping[str, Any], where: str) -> str:
    name = _text(raw, "timezone", where, "Europe/Paris")
    try:
        ZoneInfo(name)  # dates shown to partners carry this zone's offset
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ConfigError(f"{where}.timezone: unknown time zone {name!r}") from exc
    return name


# CAP 1.2 §3.2.1: sender and identifier have no spaces, commas or restricted
# characters (< and &); EIDO ids go into URNs. One rule for both.
_ID_TEXT = re.compile(r"[^\s,<>&\"']{1,200}")


def _language(raw: Mapping[str, Any], where: str) -> str:
    language = _text(raw, "language", where, "fr")
    if language not in LANGUAGES:
        raise ConfigError(f"{where}.language must be one of {list(LANGUAGES)}, got {language!r}")
    return language


def _no_space(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(raw, key, where, "")
    if value and not _ID_TEXT.fullmatch(value):
        raise ConfigError(f"{where}.{key}: 1..200 characters without spaces, commas, <>&\"'")
    return value


_HUB_RATES = {"session_msg_rate", "connect_rate"}
_HUB_ZERO_IS_OFF = {"connections_per_ip", "connections_per_token"}
_INT_MAX = 2**53


ACK_REPLICAS_MAX = 10
ACK_TIMEOUT_MAX_MS = 4000  # a WAIT must end before the Redis call timeout (5 s)


def _ack_replicas(raw: Mapping[str, Any]) -> int | None:
    value = raw["ack_replicas"]
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ACK_REPLICAS_MAX:
        raise ConfigError(
            f'hub.ack_replicas must be "auto" or an integer in 0..{ACK_REPLICAS_MAX}, got {value!r}'
        )
    return value


def _hub_value(raw: Mapping[str, Any], key: str, default: Any) -> Any:
    if key == "ack_replicas":
        return _ack_replicas(raw)
    if key == "ack_timeout_ms":
        return _int(raw, key, "hub", default, 1, ACK_TIMEOUT_MAX_MS)
    if key in _HUB_RATES:
        return _rate(raw, key, "hub", "0")
    if key == "h3_resolution":
        return _int(raw, key, "hub", default, 0, 15)
    if isinstance(default, bool):
        return _flag(raw, key, "hub", default)
    lo = 0 if key in _HUB_ZERO_IS_OFF else 1
    if isinstance(default, int):
        return _int(raw, key, "hub", default, lo, _INT_MAX)
    return _float(raw, key, "hub", default, 0.001)


def _hub(value: Any) -> HubSettings:
    raw = _table(value, "[hub]")
    defaults = HubSettings()
    unknown = set(raw) - set(HubSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"[hub]: unknown keys {sorted(unknown)}")
    return HubSettings(**{key: _hub_value(raw, key, getattr(defaults, key)) for key in raw})


_AUTH_ALGORITHMS = ("RS256", "ES256")
_AUTH_ENV = {"VIGIE_JWKS": "jwks", "VIGIE_JWT_ISSUER": "issuer", "VIGIE_JWT_AUDIENCE": "audience"}


def _auth(value: Any, env: Mapping[str, str]) -> AuthSettings:
    raw = dict(_table(value, "[auth]"))
    unknown = set(raw) - set(AuthSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"[auth]: unknown keys {sorted(unknown)}")
    raw.update({key: env[name] for name, key in _AUTH_ENV.items() if env.get(name)})
    algorithms = raw.get("algorithms", list(_AUTH_ALGORITHMS))
    if (
        not isinstance(algorithms, list)
        or not algorithms
        or any(a not in _AUTH_ALGORITHMS for a in algorithms)
    ):
        raise ConfigError(f"auth.algorithms must be a non-empty list of {list(_AUTH_ALGORITHMS)}")
    texts = {k: _text(raw, k, "auth", "") or None for k in ("jwks", "issuer", "audience")}
    if texts["jwks"] and not (texts["issuer"] and texts["audience"]):
        raise ConfigError("auth.jwks needs auth.issuer and auth.audience (both are checked)")
    auth = AuthSettings(
        **texts,
        algorithms=tuple(algorithms),
        jwks_refresh_s=_float(raw, "jwks_refresh_s", "auth", 300.0, 10.0),
        hs256=_flag(raw, "hs256", "auth", True),
    )
    if not auth.hs256 and not auth.jwks:
        raise ConfigError("auth.hs256 = false needs auth.jwks: no token could be verified")
    return auth


def _open311_endpoint(value: Any) -> Open311Endpoint:
    raw = _table(value, "[open311]")
    unknown = set(raw) - set(Open311Endpoint.__dataclass_fields__)
    if unknown:
        raise ConfigError(
            f"[open311]: unknown keys {sorted(unknown)} (a town's Open311 table is "
            "[tenants.<id>.open311])"
        )
    if "get_rate_limit" not in raw:
        return Open311Endpoint()  # the default is the dataclass's, written once
    return Open311Endpoint(
        get_rate_limit=parse_rate(str(raw["get_rate_limit"]), "open311.get_rate_limit")
    )


def _apply_env(config: Config, env: Mapping[str, str]) -> Config:
    """Environment overrides: VIGIE_ALERT_RATE_LIMIT and VIGIE_LIMITS=off (every limit)."""
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
        config = replace(config, open311=Open311Endpoint(get_rate_limit=UNLIMITED))
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
    tables = _table(raw.get("tenants", {}), "[tenants]")
    tenants = {tid: _tenant(tid, t, hub, env) for tid, t in tables.items()}
    if not tenants:
        raise ConfigError(f"{path}: no [tenants.*] table")
    auth = _auth(raw.get("auth", {}), env)
    open311 = _open311_endpoint(raw.get("open311", {}))
    return _apply_env(Config(hub, tenants, str(path), auth, open311), env)
