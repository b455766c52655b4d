"""The public Open311 GETs' limits as pure logic: the bounded table of client
buckets, and the `[open311]` settings (hub/server/open311.py uses both)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub.config import DEFAULT_CONFIG, ConfigError, Open311Endpoint, Rate, load_config
from hub.core.ratelimit import BucketTable

MINIMAL = """
[tenants.t]
area = [[43.0, 3.0], [43.1, 3.0], [43.1, 3.1]]
[tenants.t.categories]
noise = { priority = 4 }
"""


# -- the table ----------------------------------------------------------------------


def test_each_key_has_its_own_bucket() -> None:
    table = BucketTable(capacity=2, rate_per_s=1.0, size=10)
    assert [table.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert table.take("b", 0.0) == 0.0  # a's burst spent nothing of b's
    assert table.take("a", 1.0) == 0.0  # refilled at the rate


def test_the_table_never_holds_more_than_its_size() -> None:
    table = BucketTable(capacity=1, rate_per_s=1.0, size=3)
    for n in range(1000):
        table.take(f"10.0.{n // 256}.{n % 256}", 0.0)
        assert len(table) <= 3
    assert len(table) == 3 and table.evicted == 997


def test_a_full_table_forgets_the_least_recently_used() -> None:
    table = BucketTable(capacity=1, rate_per_s=0.01, size=2)
    table.take("old", 0.0)
    table.take("busy", 1.0)
    assert table.take("old", 2.0) > 0  # limited, and now the most recently used
    table.take("new", 3.0)  # evicts "busy", idle since 1.0
    assert "busy" not in table and "old" in table and "new" in table
    assert table.take("old", 4.0) > 0  # still limited: its bucket was kept
    assert table.take("busy", 5.0) == 0.0  # forgotten: starts full again


def test_a_capacity_of_zero_never_limits_and_remembers_nobody() -> None:
    table = BucketTable(capacity=0, rate_per_s=1.0, size=2)
    assert all(table.take(f"k{n}", 0.0) == 0.0 for n in range(100))
    assert len(table) == 0


def test_the_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        BucketTable(capacity=1, rate_per_s=1.0, size=0)


# -- the [open311] settings ---------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigie.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_is_60_a_minute(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL), env={}).open311 == Open311Endpoint()
    assert Open311Endpoint().get_rate_limit == Rate(60, 60.0)
    shipped = tomllib.loads(DEFAULT_CONFIG.read_text("utf-8"))
    assert shipped["open311"] == {"get_rate_limit": "60/60"}  # the example says it
    assert load_config(env={}).open311.get_rate_limit == Rate(60, 60.0)


@pytest.mark.parametrize(("value", "rate"), [('"10/1"', Rate(10, 1.0)), ('"off"', Rate(0, 1.0))])
def test_get_rate_limit_from_the_file(tmp_path: Path, value: str, rate: Rate) -> None:
    text = f"[open311]\nget_rate_limit = {value}\n" + MINIMAL
    assert load_config(write(tmp_path, text), env={}).open311.get_rate_limit == rate


def test_limits_off_turns_it_off() -> None:
    assert load_config(env={"VIGIE_LIMITS": "off"}).open311.get_rate_limit.unlimited


@pytest.mark.parametrize(
    "value",
    ['"lots"', '"60"', "60", '"-1/60"', '"60/0"', '"60/-5"', '"60/inf"', '"1.5/60"', "true"],
)
def test_a_bad_get_rate_limit_names_the_key(tmp_path: Path, value: str) -> None:
    text = f"[open311]\nget_rate_limit = {value}\n" + MINIMAL
    with pytest.raises(ConfigError, match=r"^open311\.get_rate_limit: "):
        load_config(write(tmp_path, text), env={})


def test_unknown_keys_and_a_non_table_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[open311\]: unknown keys \['jurisdiction_id'\]"):
        load_config(write(tmp_path, '[open311]\njurisdiction_id = "t"\n' + MINIMAL), env={})
    with pytest.raises(ConfigError, match=r"\[open311\] must be a table"):
        load_config(write(tmp_path, 'open311 = "60/60"\n' + MINIMAL), env={})
