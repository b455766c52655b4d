"""Configuration: config/narbonne.toml, rates, environment overrides, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import (
    DEFAULT_CONFIG,
    Config,
    ConfigError,
    HubSettings,
    Rate,
    load_config,
    parse_rate,
)

MINIMAL = """
[tenants.t]
area = [[43.0, 3.0], [43.1, 3.0], [43.1, 3.1]]
[tenants.t.categories]
noise = { priority = 4 }
"""


@pytest.fixture(scope="module")
def narbonne() -> Config:
    return load_config(env={})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigie.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, *names: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    for name in names:
        assert name in str(info.value), str(info.value)
    return info.value


# -- the shipped file ---------------------------------------------------------------


def test_default_is_narbonne(narbonne: Config) -> None:
    assert DEFAULT_CONFIG.name == "narbonne.toml"
    assert narbonne.source == str(DEFAULT_CONFIG)
    assert set(narbonne.tenants) == {"narbonne"}
    assert narbonne.tenant("narbonne") is narbonne.tenants["narbonne"]
    assert narbonne.tenant("beziers") is None


def test_narbonne_hub_settings(narbonne: Config) -> None:
    hub = narbonne.hub
    assert hub.h3_resolution == 9
    assert hub.heartbeat_s == 25
    assert hub.hello_timeout_s == 10
    assert hub.max_frame_bytes == 65536
    assert hub.outbox_max_messages == 1024
    assert hub.outbox_max_bytes == 1 << 20
    assert hub.session_msg_rate == Rate(50, 1.0)
    assert not hub.limits_off


def test_narbonne_tenant(narbonne: Config) -> None:
    town = narbonne.tenants["narbonne"]
    assert town.name == "Narbonne"
    assert town.timezone == "Europe/Paris"
    assert (town.group_k, town.group_window_s, town.cover_k) == (1, 1800, 1)
    assert town.alert_rate_limit == Rate(5, 600.0)
    assert town.text_max_chars == 1000
    assert len(town.area) == 11
    assert all(isinstance(c, float) for point in town.area for c in point)
    assert set(town.sectors) == {"centre", "nord", "ouest", "sud", "plage"}
    assert {s.resolution for s in town.sectors.values()} == {7}
    assert len(town.categories) == 12
    assert town.categories["noise"].priority == 4
    assert town.categories["violence"].priority == 1
    assert town.categories["other"].priority == 5
    assert town.categories["rodeo"].label_fr == "Rodéo urbain"
    assert town.categories["rodeo"].label_en == "Street rodeo"


def test_vigie_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    config = load_config(env={"VIGIE_CONFIG": str(path)})
    assert config.source == str(path)
    assert set(config.tenants) == {"t"}


def test_defaults_of_a_minimal_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), env={})
    assert config.hub == HubSettings()
    town = config.tenants["t"]
    assert town.name == "t"
    assert town.alert_rate_limit == Rate(5, 600.0)
    assert town.sectors == {}
    assert town.categories["noise"].label_en == "noise"


# -- parse_rate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("5/600", Rate(5, 600.0)),
        ("50/1", Rate(50, 1.0)),
        (" 10 / 1.5 ", Rate(10, 1.5)),
        ("1/0.25", Rate(1, 0.25)),
    ],
)
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate
    assert not parse_rate(text).unlimited


@pytest.mark.parametrize("text", ["0", "off", "OFF", " none ", "0/60"])
def test_unlimited_rates(text: str) -> None:
    assert parse_rate(text).unlimited


@pytest.mark.parametrize(
    "text", ["", "5", "five/60", "5/", "/60", "1.5/60", "5/0", "5/-1", "-1/60", "5/nan", "5/inf"]
)
def test_bad_rates_name_the_key(text: str) -> None:
    with pytest.raises(ConfigError, match="my_rate"):
        parse_rate(text, "my_rate")


# -- environment --------------------------------------------------------------------


def test_alert_rate_limit_override(narbonne: Config) -> None:
    config = load_config(env={"VIGIE_ALERT_RATE_LIMIT": "10/60"})
    assert config.tenants["narbonne"].alert_rate_limit == Rate(10, 60.0)
    assert config.hub == narbonne.hub


def test_alert_rate_limit_override_zero_is_unlimited() -> None:
    config = load_config(env={"VIGIE_ALERT_RATE_LIMIT": "0"})
    assert config.tenants["narbonne"].alert_rate_limit.unlimited
    assert not config.hub.session_msg_rate.unlimited  # nothing else changes


def test_alert_rate_limit_override_applies_to_every_tenant(tmp_path: Path) -> None:
    text = MINIMAL + MINIMAL.replace("tenants.t", "tenants.u")
    config = load_config(write(tmp_path, text), env={"VIGIE_ALERT_RATE_LIMIT": "2/10"})
    assert {t.alert_rate_limit for t in config.tenants.values()} == {Rate(2, 10.0)}


def test_bad_alert_rate_limit_override_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="VIGIE_ALERT_RATE_LIMIT"):
        load_config(env={"VIGIE_ALERT_RATE_LIMIT": "lots"})


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no", " off "])
def test_limits_off_turns_every_limit_off(value: str) -> None:
    config = load_config(env={"VIGIE_LIMITS": value, "VIGIE_ALERT_RATE_LIMIT": "1/60"})
    hub = config.hub
    assert hub.limits_off
    assert hub.session_msg_rate.unlimited
    assert hub.connect_rate.unlimited
    assert hub.connections_per_ip == 0  # 0 means no cap (server/admission.py)
    assert hub.connections_per_token == 0
    assert all(t.alert_rate_limit.unlimited for t in config.tenants.values())


@pytest.mark.parametrize("value", ["", "on", "1", "yes"])
def test_limits_stay_on_otherwise(value: str, narbonne: Config) -> None:
    config = load_config(env={"VIGIE_LIMITS": value})
    assert config.hub == narbonne.hub
    assert not config.hub.limits_off


def test_hub_rates_from_the_file(tmp_path: Path) -> None:
    text = '[hub]\nsession_msg_rate = "0"\nconnect_rate = "100/2"\n' + MINIMAL
    hub = load_config(write(tmp_path, text), env={}).hub
    assert hub.session_msg_rate.unlimited
    assert hub.connect_rate == Rate(100, 2.0)


@pytest.mark.parametrize(("value", "parsed"), [('"auto"', None), ("0", 0), ("2", 2)])
def test_ack_replicas(tmp_path: Path, value: str, parsed: int | None) -> None:
    text = f"[hub]\nack_replicas = {value}\nack_timeout_ms = 250\n" + MINIMAL
    hub = load_config(write(tmp_path, text), env={}).hub
    assert (hub.ack_replicas, hub.ack_timeout_ms) == (parsed, 250)


def test_ack_replicas_default_is_auto(narbonne: Config) -> None:
    assert (narbonne.hub.ack_replicas, narbonne.hub.ack_timeout_ms) == (None, 1000)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('ack_replicas = "all"', "hub.ack_replicas"),
        ("ack_replicas = -1", "hub.ack_replicas"),
        ("ack_replicas = true", "hub.ack_replicas"),
        ("ack_replicas = 1.0", "hub.ack_replicas"),
        ("ack_timeout_ms = 0", "hub.ack_timeout_ms"),
        ("ack_timeout_ms = 5000", "hub.ack_timeout_ms"),  # not below the Redis call timeout
    ],
)
def test_bad_ack_settings_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    refused(tmp_path, f"[hub]\n{line}\n" + MINIMAL, key)


# -- bad files ----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml", env={})


def test_invalid_toml(tmp_path: Path) -> None:
    refused(tmp_path, "[hub\nh3_resolution = 9", "cannot read config")


def test_no_tenants(tmp_path: Path) -> None:
    refused(tmp_path, "[hub]\nh3_resolution = 9\n", "tenants")


@pytest.mark.parametrize(
    ("hub", "key"),
    [
        ("h3_resolutoin = 9", "h3_resolutoin"),
        ("h3_resolution = 16", "h3_resolution"),
        ("h3_resolution = -1", "h3_resolution"),
        ('h3_resolution = "9"', "h3_resolution"),
        ("h3_resolution = 9.5", "h3_resolution"),
        ("h3_resolution = true", "h3_resolution"),
        ('heartbeat_s = "fast"', "heartbeat_s"),
        ("heartbeat_s = 0", "heartbeat_s"),
        ("max_frame_bytes = [65536]", "max_frame_bytes"),
        ("outbox_max_messages = 0", "outbox_max_messages"),
        ("outbox_max_bytes = -1", "outbox_max_bytes"),
        ('limits_off = "yes"', "limits_off"),
        ('session_msg_rate = "fast"', "session_msg_rate"),
        ("session_msg_rate = 50", "session_msg_rate"),
        ("connections_per_ip = -5", "connections_per_ip"),
    ],
)
def test_bad_hub_values_name_the_key(tmp_path: Path, hub: str, key: str) -> None:
    refused(tmp_path, f"[hub]\n{hub}\n{MINIMAL}", key)


def test_hub_must_be_a_table(tmp_path: Path) -> None:
    refused(tmp_path, "hub = 5\n" + MINIMAL, "hub")


def test_tenants_must_be_tables(tmp_path: Path) -> None:
    refused(tmp_path, "[tenants]\nt = 5\n", "tenants.t")


@pytest.mark.parametrize(
    ("area", "key"),
    [
        ("[[43.0, 3.0], [43.1, 3.0]]", "area"),
        ("[]", "area"),
        ('"Narbonne"', "area"),
        ("[[43.0], [43.1, 3.0], [43.1, 3.1]]", "area"),
        ('[["a", 3.0], [43.1, 3.0], [43.1, 3.1]]', "area"),
        ("[[43.0, 3.0, 1.0], [43.1, 3.0], [43.1, 3.1]]", "area"),
        ("[[91.0, 3.0], [43.1, 3.0], [43.1, 3.1]]", "area"),
    ],
)
def test_bad_area_names_the_key(tmp_path: Path, area: str, key: str) -> None:
    text = MINIMAL.replace("area = [[43.0, 3.0], [43.1, 3.0], [43.1, 3.1]]", f"area = {area}")
    refused(tmp_path, text, "tenants.t", key)


@pytest.mark.parametrize(
    ("category", "key"),
    [
        ("noise = { priority = 0 }", "categories.noise"),
        ("noise = { priority = 6 }", "categories.noise"),
        ('noise = { priority = "high" }', "categories.noise"),
        ("noise = { priority = 2.5 }", "categories.noise"),
        ('noise = { fr = "Bruit" }', "categories.noise"),
        ("noise = 4", "categories.noise"),
        ("noise = { priority = 4, fr = 5 }", "categories.noise"),
    ],
)
def test_bad_category_names_the_key(tmp_path: Path, category: str, key: str) -> None:
    refused(tmp_path, MINIMAL.replace("noise = { priority = 4 }", category), key)


def test_no_categories(tmp_path: Path) -> None:
    text = MINIMAL.replace("noise = { priority = 4 }", "")
    refused(tmp_path, text, "tenants.t.categories")


@pytest.mark.parametrize(
    ("sector", "key"),
    [
        ("c = { lat = 43.1, lon = 3.0, resolution = 10 }", "sectors.c"),
        ("c = { lat = 43.1, lon = 3.0, resolution = -1 }", "sectors.c"),
        ("c = { lon = 3.0 }", "sectors.c"),
        ('c = { lat = "north", lon = 3.0 }', "sectors.c"),
        ("c = { lat = 43.1, lon = 3.0, resolution = 7.5 }", "sectors.c"),
        ("c = 7", "sectors.c"),
    ],
)
def test_bad_sector_names_the_key(tmp_path: Path, sector: str, key: str) -> None:
    refused(tmp_path, f"{MINIMAL}[tenants.t.sectors]\n{sector}\n", "tenants.t", key)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('alert_rate_limit = "lots"', "alert_rate_limit"),
        ('group_k = "one"', "group_k"),
        ("group_k = -1", "group_k"),
        ("cover_k = 1.5", "cover_k"),
        ("cover_k = -1", "cover_k"),
        ("group_window_s = 0", "group_window_s"),
        ("text_max_chars = 0", "text_max_chars"),
        ("text_max_chars = 5000", "text_max_chars"),  # the protocol caps text at 1000
        ("assignment_timeout_s = 0", "assignment_timeout_s"),
        ('auto_dispatch = "false"', "auto_dispatch"),
        ("retention_days = true", "retention_days"),
        ("name = 5", "name"),
        ("timezone = 1", "timezone"),
        ('timezone = "Mars/Olympus"', "timezone"),
    ],
)
def test_bad_tenant_values_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    text = MINIMAL.replace("[tenants.t]\n", f"[tenants.t]\n{line}\n")
    refused(tmp_path, text, "tenants.t", key)


def test_tenant_values_from_the_file(tmp_path: Path) -> None:
    lines = (
        'name = "Test"\ngroup_k = 2\ngroup_window_s = 600\ncover_k = 0\n'
        'alert_rate_limit = "off"\ntext_max_chars = 280\nassignment_timeout_s = 30\n'
        "auto_dispatch = true\nretention_days = 7\n"
    )
    text = MINIMAL.replace("[tenants.t]\n", f"[tenants.t]\n{lines}")
    town = load_config(write(tmp_path, text), env={}).tenants["t"]
    assert town.name == "Test"
    assert (town.group_k, town.group_window_s, town.cover_k) == (2, 600, 0)
    assert town.alert_rate_limit.unlimited
    assert (town.text_max_chars, town.assignment_timeout_s) == (280, 30)
    assert town.auto_dispatch is True
    assert town.retention_days == 7


# -- [auth]: identity-provider tokens --------------------------------------------------

AUTH = """
[auth]
jwks = "https://sso.example/realms/vigie/protocol/openid-connect/certs"
issuer = "https://sso.example/realms/vigie"
audience = "vigie"
"""


def test_no_auth_table_means_hs256_only(narbonne: Config) -> None:
    assert narbonne.auth.jwks is None and narbonne.auth.hs256 is True


def test_auth_table_is_read(tmp_path: Path) -> None:
    auth = load_config(write(tmp_path, MINIMAL + AUTH), env={}).auth
    assert auth.issuer == "https://sso.example/realms/vigie" and auth.audience == "vigie"
    assert auth.algorithms == ("RS256", "ES256") and auth.jwks_refresh_s == 300.0


def test_auth_from_the_environment(tmp_path: Path) -> None:
    env = {"VIGIE_JWKS": "/etc/vigie/jwks.json", "VIGIE_JWT_ISSUER": "i", "VIGIE_JWT_AUDIENCE": "a"}
    auth = load_config(write(tmp_path, MINIMAL), env=env).auth
    assert (auth.jwks, auth.issuer, auth.audience) == ("/etc/vigie/jwks.json", "i", "a")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[auth]\njwks = "/k.json"\n', ("auth.jwks", "issuer", "audience")),
        ("[auth]\nhs256 = false\n", ("auth.hs256",)),
        (AUTH + 'algorithms = ["HS256"]\n', ("auth.algorithms",)),
        (AUTH + "algorithms = []\n", ("auth.algorithms",)),
        (AUTH + "jwks_refresh_s = 1\n", ("auth.jwks_refresh_s",)),
        (AUTH + "secret = 'x'\n", ("[auth]", "secret")),
    ],
)
def test_bad_auth_tables_are_refused(tmp_path: Path, text: str, names: tuple[str, ...]) -> None:
    refused(tmp_path, MINIMAL + text, *names)


# -- public resolution, language, [tenants.<id>.open311] ---------------------------------

KEY = "k" * 24


def test_public_resolution_and_language_defaults(narbonne: Config, tmp_path: Path) -> None:
    town = load_config(write(tmp_path, MINIMAL), env={}).tenants["t"]
    assert (town.public_resolution, town.language, town.open311) == (7, "fr", None)
    assert narbonne.tenants["narbonne"].public_resolution == 7


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("public_resolution = 10", "public_resolution"),  # finer than the hub's 9
        ("public_resolution = -1", "public_resolution"),
        ('language = "de"', "language"),
    ],
)
def test_bad_public_settings_name_the_key(tmp_path: Path, line: str, key: str) -> None:
    refused(tmp_path, MINIMAL.replace("[tenants.t]\n", f"[tenants.t]\n{line}\n"), key)


def test_open311_partner_key_comes_from_the_environment(narbonne: Config) -> None:
    assert narbonne.tenants["narbonne"].open311 is not None
    unkeyed = narbonne.tenants["narbonne"].open311.partners["fixmystreet"]
    assert unkeyed.api_key is None  # variable unset: the partner is refused, not an error
    keyed = load_config(env={"VIGIE_OPEN311_KEY_FIXMYSTREET": KEY}).tenants["narbonne"]
    assert keyed.open311 is not None
    partner = keyed.open311.partners["fixmystreet"]
    assert partner.api_key == KEY and KEY not in repr(partner)
    assert partner.rate_limit == Rate(120, 60.0)
    assert keyed.open311.services["noise"].group == "tranquillité publique"


def test_open311_partner_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY + "\n", encoding="utf-8")
    text = MINIMAL + (
        "[tenants.t.open311]\n"
        f'partners = {{ app = {{ api_key_file = "{tmp_path / "key"}", rate_limit = "5/1" }} }}\n'
    )
    open311 = load_config(write(tmp_path, text), env={}).tenants["t"].open311
    assert open311 is not None and open311.jurisdiction_id == "t"
    assert open311.partners["app"].api_key == KEY
    assert open311.partners["app"].rate_limit == Rate(5, 1.0)


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ("partners = { app = {} }", ("partners.app", "api_key_env")),
        ('partners = { app = { api_key = "inline" } }', ("partners.app", "api_key_env")),
        ('partners = { app = { api_key_file = "/nonexistent/key" } }', ("api_key_file",)),
        ('partners = { app = { api_key_env = "SHORT" } }', ("shorter than 16",)),
        ('services = { nope = { group = "x" } }', ("services", "nope")),
        ("jurisdiction_id = 5", ("open311.jurisdiction_id",)),
    ],
)
def test_bad_open311_tables_are_refused(tmp_path: Path, table: str, names: tuple[str, ...]) -> None:
    text = MINIMAL + f"[tenants.t.open311]\n{table}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={"SHORT": "abc"})
    for name in names:
        assert name in str(info.value), str(info.value)


# -- statistics and neighbours (added) --------------------------------------------------


def test_stats_and_neighbours_settings(tmp_path: Path, narbonne: Config) -> None:
    town = narbonne.tenants["narbonne"]
    assert town.stats.targets_s[1] == 600 and town.stats.recurrence_days == 7
    assert town.neighbours_publish == ("road_hazard",)
    minimal = load_config(write(tmp_path, MINIMAL), env={}).tenants["t"]
    assert minimal.stats.retention_days == 400 and minimal.neighbours_publish == ()
    text = MINIMAL.replace("[tenants.t.categories]", "[tenants.t.stats]\ntargets_s = { 2 = 90 }\n"
                           "[tenants.t.categories]")  # fmt: skip
    assert load_config(write(tmp_path, text), env={}).tenants["t"].stats.targets_s[2] == 90


@pytest.mark.parametrize(
    ("table", "names"),
    [
        ("[tenants.t.stats]\ntargets_s = { 9 = 60 }", ("targets_s", "priorities")),
        ("[tenants.t.stats]\ntargets_s = { 1 = 0 }", ("targets_s",)),
        ("[tenants.t.stats]\nrecurrence_days = 0", ("recurrence_days",)),
        ("[tenants.t.stats]\nwhat = 1", ("unknown", "what")),
    ],
)
def test_bad_stats_settings_are_named(tmp_path: Path, table: str, names: tuple[str, ...]) -> None:
    refused(
        tmp_path,
        MINIMAL.replace("[tenants.t.categories]", table + "\n[tenants.t.categories]"),
        *names,
    )


def test_neighbours_publish_names_categories(tmp_path: Path) -> None:
    text = MINIMAL.replace("area =", 'neighbours_publish = ["fire"]\narea =')
    refused(tmp_path, text, "neighbours_publish", "fire")


# -- privacy: resolutions per audience, retention per kind ----------------------------


def test_retention_per_kind_defaults_follow_incidents(tmp_path: Path) -> None:
    town = load_config(write(tmp_path, MINIMAL), env={}).tenants["t"]
    assert town.retention.incidents_days == town.retention_days == 90
    assert (town.retention.events_days, town.retention.erasure_log_days) == (7, 1825)
    text = MINIMAL.replace("[tenants.t]\n", "[tenants.t]\nretention_days = 30\n")
    short = load_config(write(tmp_path, text), env={}).tenants["t"].retention
    assert (short.incidents_days, short.audit_days, short.inbox_days, short.open311_days) == (
        30, 30, 30, 30,
    )  # fmt: skip
    assert short.events_days == 7


def test_retention_table_and_privacy_table(tmp_path: Path) -> None:
    text = MINIMAL + (
        "\n[tenants.t.retention]\nincidents_days = 10\naudit_days = 400\n"
        "\n[tenants.t.privacy]\npublic_resolution = 6\n"
    )
    town = load_config(write(tmp_path, text), env={}).tenants["t"]
    assert (town.retention.incidents_days, town.retention.audit_days) == (10, 400)
    assert town.retention.inbox_days == 10
    assert (town.public_resolution, town.notice_resolution) == (6, 6)  # notices follow public


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("\n[tenants.t.retention]\nincidents_days = 0\n", "incidents_days"),
        ("\n[tenants.t.retention]\nevents_days = 1.5\n", "events_days"),
        ("\n[tenants.t.retention]\nforever = 1\n", "forever"),
        ("\n[tenants.t.privacy]\nnotice_resolution = 10\n", "notice_resolution"),
        ("\n[tenants.t.privacy]\ncitizen = 7\n", "citizen"),
    ],
)
def test_bad_privacy_values_name_the_key(tmp_path: Path, extra: str, key: str) -> None:
    refused(tmp_path, MINIMAL + extra, key)


@pytest.mark.parametrize(
    ("top", "table"),
    [
        ("retention_days = 5", "[tenants.t.retention]\nincidents_days = 5"),
        ("public_resolution = 7", "[tenants.t.privacy]\npublic_resolution = 7"),
    ],
)
def test_a_value_set_twice_is_refused(tmp_path: Path, top: str, table: str) -> None:
    text = MINIMAL.replace("[tenants.t]\n", f"[tenants.t]\n{top}\n") + f"\n{table}\n"
    refused(tmp_path, text, "not both" if "retention" in top else "public_resolution")
