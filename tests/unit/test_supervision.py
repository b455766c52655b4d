"""The loop rule: outages are waited out, errors backed off and fatal after six in a row."""

from __future__ import annotations

import pytest

from hub.core.supervision import (
    EXIT_LOOP_FAILED,
    FAULT_RULES,
    Backoff,
    Fault,
    FaultRule,
    LoopHealth,
)


def test_backoff_doubles_from_its_base_and_stops_at_its_cap() -> None:
    backoff = Backoff(0.2, 5.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert backoff.delay(1000) == 5.0  # no overflow, still bounded


def test_six_errors_in_a_row_are_fatal_after_six_seconds_of_retries() -> None:
    health = LoopHealth.default()
    verdicts = [health.failed(Fault.ERROR) for _ in range(6)]
    assert [v.fatal for v in verdicts] == [False] * 5 + [True]
    assert sum(v.delay_s for v in verdicts[:5]) == pytest.approx(6.2)


def test_an_outage_is_never_fatal_and_waits_at_most_two_seconds() -> None:
    health = LoopHealth.default()
    verdicts = [health.failed(Fault.OUTAGE) for _ in range(500)]
    assert not any(v.fatal for v in verdicts)
    assert max(v.delay_s for v in verdicts) == 2.0 and verdicts[-1].in_a_row == 500


def test_a_success_starts_the_count_again() -> None:
    health = LoopHealth.default()
    for _ in range(5):
        health.failed(Fault.ERROR)
    health.ok()
    verdict = health.failed(Fault.ERROR)
    assert (verdict.in_a_row, verdict.fatal, verdict.delay_s) == (1, False, 0.2)


def test_a_change_of_fault_starts_the_count_again() -> None:
    health = LoopHealth.default()
    for _ in range(5):
        health.failed(Fault.ERROR)
    assert health.failed(Fault.OUTAGE).in_a_row == 1
    assert not health.failed(Fault.ERROR).fatal  # an error after an outage: the first


def test_the_rules_are_a_table_with_one_rule_per_fault() -> None:
    assert set(FAULT_RULES) == set(Fault)
    custom = LoopHealth({Fault.OUTAGE: FaultRule(Backoff(1, 1), None),
                         Fault.ERROR: FaultRule(Backoff(1, 1), fatal_after=1)})  # fmt: skip
    assert custom.failed(Fault.ERROR).fatal


def test_the_exit_status_is_not_uvicorns_start_up_failure() -> None:
    # 3 makes uvicorn's worker supervisor stop instead of restarting the worker.
    assert EXIT_LOOP_FAILED not in (0, 1, 2, 3)


def test_an_outage_keeps_a_fast_loops_pace_and_an_error_does_not() -> None:
    health = LoopHealth.default()
    assert [health.failed(Fault.OUTAGE, 0.25).delay_s for _ in range(4)] == [0.1, 0.2, 0.25, 0.25]
    assert health.failed(Fault.OUTAGE, None).delay_s == 1.6  # a blocking reader: the backoff
    errors = [health.failed(Fault.ERROR, 0.25).delay_s for _ in range(3)]
    assert errors == [0.2, 0.4, 0.8]  # a glitch gets time to pass
