"""The statistics' pure core: sketch buckets, quantiles, stamps, the field grammar."""

from __future__ import annotations

from collections import Counter

import pytest

from hub.core.stats import (
    ALPHA,
    bucket_of,
    bucket_value,
    fold,
    quantile,
    stamp_of,
    summary,
)


@pytest.mark.parametrize("seconds", [1.5, 2, 59, 60, 61, 600, 3600, 86_400, 7 * 86_400])
def test_a_bucket_stands_for_its_durations_within_alpha(seconds: float) -> None:
    value = bucket_value(bucket_of(int(seconds * 1000)))
    assert abs(value - seconds) <= ALPHA * seconds + 1e-9


def test_a_second_or_less_is_bucket_zero() -> None:
    assert bucket_of(0) == bucket_of(1000) == 0 and bucket_of(1001) == 1


def test_quantile_is_the_value_of_rank_floor_q_n_minus_1() -> None:
    sketch = Counter(bucket_of(s * 1000) for s in (10, 20, 30, 40, 1000))
    assert quantile(sketch, 0.5) == pytest.approx(30, rel=ALPHA)
    assert quantile(sketch, 0.99) == pytest.approx(40, rel=ALPHA)
    assert quantile(sketch, 1.0) == pytest.approx(1000, rel=ALPHA)
    assert quantile({}, 0.5) is None


def test_stamp_is_local_day_and_hour_of_week() -> None:
    # 2026-03-29 is the night Paris moves to summer time: 01:30Z is 03:30 local, Sunday.
    stamp = stamp_of(1774747800000, "Europe/Paris", "871f9a000ffffff")
    assert (stamp.day, stamp.how) == ("2026-03-29", 6 * 24 + 3)
    # 23:30Z on a Monday is already Tuesday 00:30 in Paris (winter, UTC+1).
    assert stamp_of(1793662200000, "Europe/Paris", "x").how == 24


def test_fold_adds_the_grammar_and_passes_over_garbage() -> None:
    days = [
        ("2026-11-02", {"n|noise|4|a1|21": 2, "r|noise|a1|21": 3, "d|response|noise|4|a1|21|300": 2,
                        "o|closed|noise|4|a1|21": 2, "f|noise|4|a1|21|5": 1, "f|noise|4|a1|21|3": 1,
                        "garbage": 7, "n|too|few": 1, "d|response|noise|4|a1|21|x": 1}),
        ("2026-11-03", {"n|theft|2|a2|40": 1}),
    ]  # fmt: skip
    totals = fold(days, lambda area: "centre" if area == "a1" else "other")
    body = summary(totals, {4: 7200}, recurring_weeks=1)
    assert body["volumes"]["incidents"] == 3 and body["volumes"]["reports"] == 3
    assert body["volumes"]["by_sector"] == {"centre": 2, "other": 1}
    assert body["stages"]["response"]["count"] == 2
    assert body["targets"]["4"]["within"] == 2
    assert body["feedback"] == {
        "count": 2, "mean": 4.0, "by_score": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
        "by_category": {"noise": {"3": 1, "5": 1}},
    }  # fmt: skip
    kept = fold(days, lambda area: "x", keep=lambda category, area: category == "theft")
    assert sum(kept.incidents.values()) == 1
