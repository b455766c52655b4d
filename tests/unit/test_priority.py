"""Priority and queue score: the rules in hub/core/priority.py's docstring."""

from __future__ import annotations

import pytest

from hub.core.priority import (
    AGING_CAP,
    AGING_PER_MIN,
    LADDER_LEN,
    aging_bonus,
    base_score,
    corroborated_priority,
    corroboration_ladder,
    score,
)

PRIORITIES = (1, 2, 3, 4, 5)


def documented_score(priority: int, reporters: int, waited_s: float) -> float:
    """Rule 4, written out independently of the module."""
    aging = min(AGING_CAP, AGING_PER_MIN[priority] * waited_s / 60)
    return 20 * (6 - priority) + 1.5 * min(reporters - 1, 10) + aging


# -- rule 2: corroboration ----------------------------------------------------------


@pytest.mark.parametrize("base", PRIORITIES)
def test_one_or_two_reporters_keep_the_base_priority(base: int) -> None:
    assert corroborated_priority(base, 1) == base
    assert corroborated_priority(base, 2) == base


@pytest.mark.parametrize("base", [2, 3, 4, 5])
@pytest.mark.parametrize("reporters", [3, 4, 5])
def test_three_reporters_raise_one_step(base: int, reporters: int) -> None:
    assert corroborated_priority(base, reporters) == base - 1


@pytest.mark.parametrize("base", [3, 4, 5])
@pytest.mark.parametrize("reporters", [6, 7, 12, 1000])
def test_six_reporters_raise_a_second_step_and_no_more(base: int, reporters: int) -> None:
    assert corroborated_priority(base, reporters) == base - 2


@pytest.mark.parametrize("base", PRIORITIES)
def test_never_above_priority_1(base: int) -> None:
    for reporters in range(20):
        assert 1 <= corroborated_priority(base, reporters) <= base


def test_base_1_and_2_stop_at_1() -> None:
    assert [corroborated_priority(1, n) for n in (1, 3, 6)] == [1, 1, 1]
    assert [corroborated_priority(2, n) for n in (1, 3, 6)] == [2, 1, 1]


# -- rule 4: the score ---------------------------------------------------------------


@pytest.mark.parametrize("priority", PRIORITIES)
@pytest.mark.parametrize("reporters", [1, 2, 5, 11, 12, 40])
def test_score_follows_the_documented_formula(priority: int, reporters: int) -> None:
    for waited_s in (0, 59, 60, 600, 1800, 2400, 7200, 86400):
        assert score(priority, reporters, waited_s) == pytest.approx(
            documented_score(priority, reporters, waited_s), abs=0.005
        )


def test_score_values() -> None:
    assert base_score(1, 1) == 100.0
    assert base_score(5, 1) == 20.0
    assert base_score(3, 3) == 63.0
    assert base_score(3, 11) == base_score(3, 50) == 75.0  # reporters bonus capped at 10 extra
    assert score(2, 1) == 80.0


def test_no_reporters_scores_like_one() -> None:
    assert base_score(3, 0) == base_score(3, 1)


def test_score_is_rounded_to_two_decimals() -> None:
    value = score(4, 1, 7)  # 0.35 or so points per minute for 7 s
    assert value == round(value, 2)


@pytest.mark.parametrize("priority", PRIORITIES)
def test_aging_is_linear_per_minute_until_the_cap(priority: int) -> None:
    rate = AGING_PER_MIN[priority]
    assert aging_bonus(priority, 0) == 0
    assert aging_bonus(priority, 60) == pytest.approx(rate)
    assert aging_bonus(priority, 600) == pytest.approx(min(AGING_CAP, 10 * rate))
    minutes_to_cap = AGING_CAP / rate
    assert aging_bonus(priority, minutes_to_cap * 60) == pytest.approx(AGING_CAP)
    assert aging_bonus(priority, minutes_to_cap * 60 * 10) == AGING_CAP
    assert aging_bonus(priority, 365 * 86400) == AGING_CAP


@pytest.mark.parametrize("priority", PRIORITIES)
def test_negative_wait_adds_nothing(priority: int) -> None:
    # a clock skew between processes must not push an incident down the queue
    assert aging_bonus(priority, -600) == 0
    assert score(priority, 1, -600) == score(priority, 1)


@pytest.mark.parametrize("priority", PRIORITIES)
def test_aging_never_decreases(priority: int) -> None:
    values = [aging_bonus(priority, s) for s in range(0, 3 * 3600, 30)]
    assert values == sorted(values)


def test_more_urgent_is_aged_faster() -> None:
    rates = [AGING_PER_MIN[p] for p in PRIORITIES]
    assert rates == sorted(rates, reverse=True)
    assert all(rate > 0 for rate in rates)


@pytest.mark.parametrize("reporters", [1, 2, 5])
def test_fresh_incidents_rank_by_priority(reporters: int) -> None:
    scores = [score(p, reporters) for p in PRIORITIES]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("reporters", [1, 2])  # a base-2 incident is still P2 with 2 reporters
def test_documented_claim_p3_after_40_minutes_ranks_above_fresh_p2(reporters: int) -> None:
    assert score(3, reporters, 40 * 60) > score(2, reporters)


@pytest.mark.parametrize("priority", [2, 3, 4, 5])
def test_waiting_can_overtake_the_next_priority_up(priority: int) -> None:
    # "a stream of new reports cannot starve old ones" (one level up, same reporters)
    assert score(priority, 1, 86400) > score(priority - 1, 1)


# -- the ladder handed to Lua ---------------------------------------------------------


@pytest.mark.parametrize("base", PRIORITIES)
def test_ladder_shape(base: int) -> None:
    ladder = corroboration_ladder(base)
    assert len(ladder) == LADDER_LEN
    for n, (priority, base_value) in enumerate(ladder, start=1):
        assert isinstance(priority, int)
        assert isinstance(base_value, float)
        assert priority == corroborated_priority(base, n)
        assert base_value == base_score(priority, n)


@pytest.mark.parametrize("base", PRIORITIES)
def test_ladder_only_goes_up(base: int) -> None:
    ladder = corroboration_ladder(base)
    priorities = [p for p, _ in ladder]
    scores = [s for _, s in ladder]
    assert priorities == sorted(priorities, reverse=True)
    assert scores == sorted(scores)
    assert ladder[0] == (base, base_score(base, 1))


def test_ladder_for_a_noise_report() -> None:
    ladder = corroboration_ladder(4)
    assert ladder[:3] == [(4, 40.0), (4, 41.5), (3, 63.0)]
    assert ladder[5] == (2, 87.5)
    assert ladder[-1] == (2, 95.0)


def test_ladder_is_cached_but_each_caller_gets_its_own_list() -> None:
    first = corroboration_ladder(3)
    first.clear()
    assert len(corroboration_ladder(3)) == LADDER_LEN
    assert corroboration_ladder(3) is not corroboration_ladder(3)
