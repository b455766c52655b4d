"""Token buckets with an explicit clock."""

from __future__ import annotations

import pytest

from hub.core.ratelimit import TokenBucket


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
