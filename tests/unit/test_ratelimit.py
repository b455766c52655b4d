"""Token buckets with an explicit clock."""

from __future__ import annotations

import pytest

from hub.config import HubSettings, Rate
from hub.core.ratelimit import TokenBucket, client_key
from hub.server.admission import Admission


def test_starts_full_then_limits() -> None:
    bucket = TokenBucket(capacity=3, rate_per_s=0.5)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(2.0)  # one token per 2 s


def test_refills_at_the_rate() -> None:
    bucket = TokenBucket(capacity=2, rate_per_s=1.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0
    assert bucket.take(1.0) > 0


def test_refill_is_capped_at_capacity() -> None:
    bucket = TokenBucket(capacity=2, rate_per_s=10.0)
    bucket.take(0.0)
    results = [bucket.take(3600.0) for _ in range(3)]
    assert results[:2] == [0.0, 0.0]
    assert results[2] == pytest.approx(0.1)


def test_a_refused_take_costs_nothing() -> None:
    bucket = TokenBucket(capacity=1, rate_per_s=1.0)
    bucket.take(0.0)
    for _ in range(10):
        assert bucket.take(0.5) == pytest.approx(0.5)
    assert bucket.take(1.0) == 0.0


def test_cost() -> None:
    bucket = TokenBucket(capacity=10, rate_per_s=1.0)
    assert bucket.take(0.0, cost=7) == 0.0
    assert bucket.take(0.0, cost=4) == pytest.approx(1.0)
    assert bucket.take(0.0, cost=3) == 0.0


def test_capacity_zero_never_limits() -> None:
    bucket = TokenBucket(capacity=0, rate_per_s=0.0)
    assert all(bucket.take(0.0) == 0.0 for _ in range(1000))


def test_alert_rate_five_per_ten_minutes() -> None:
    bucket = TokenBucket(capacity=5, rate_per_s=5 / 600)
    assert all(bucket.take(0.0) == 0.0 for _ in range(5))
    assert bucket.take(60.0) == pytest.approx(60.0)  # one alert every 120 s
    assert bucket.take(120.0) == 0.0


def test_a_clock_stepping_back_grants_nothing() -> None:
    bucket = TokenBucket(capacity=2, rate_per_s=1.0)
    bucket.take(10.0)
    bucket.take(10.0)
    assert bucket.take(5.0) > 0
    assert bucket.take(5.0) > 0  # not a fresh, full bucket
    assert bucket.take(6.0) == 0.0  # time moves on from the earlier reading


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same subscriber
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # another one
        ("::ffff:198.51.100.9", "198.51.100.9"),  # IPv4 on a dual-stack listener
        ("::1", "::/64"),
        ("", ""),  # no address known (a test client, a Unix socket): itself
        ("not an address", "not an address"),
    ],
)
def test_per_client_limits_count_an_ipv6_64_as_one_client(address: str, key: str) -> None:
    assert client_key(address) == key


def test_the_connection_cap_counts_an_ipv6_64_as_one_client() -> None:
    # One host may pick any source address in its /64: a cap per address would
    # give it a fresh allowance for every connection.
    admission = Admission(HubSettings(connections_per_ip=1, connect_rate=Rate(0, 1.0)))
    assert admission.admit_connection("2001:db8::1")
    assert not admission.admit_connection("2001:db8::2")
    assert admission.admit_connection("2001:db8:0:1::1")  # the next /64 is someone else
    admission.release_connection("2001:db8::1")
    assert admission.admit_connection("2001:db8::2")  # released by the /64, not the address
