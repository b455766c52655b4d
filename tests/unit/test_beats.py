"""hub.server.beats: periodic timers land on a common grid, never later than asked."""

from __future__ import annotations

import asyncio

import pytest

from hub.server.beats import BEAT_S, RESOLUTION_S, next_beat, sleep_to_beat


def test_a_wait_is_rounded_down_onto_the_grid() -> None:
    assert next_beat(100.3, 1.0) == 101.0
    assert next_beat(100.3, 2.0) == 102.0
    assert next_beat(100.3, 30.0) == 130.0


def test_from_a_beat_the_next_is_one_period_on_even_a_little_early_or_late() -> None:
    for fired_at in (101.0, 101.0 - RESOLUTION_S / 2, 101.0 + 0.002):
        assert next_beat(fired_at, 1.0) == 102.0
        assert next_beat(fired_at, 2.0) == 103.0


def test_never_later_than_asked_beyond_the_timers_resolution() -> None:
    for tenths in range(1000):
        now = 1000.0 + tenths * 0.0137
        for delay in (0.25, 1.0, 2.0, 20.0):
            at = next_beat(now, delay)
            assert now < at <= now + delay + RESOLUTION_S


def test_a_wait_shorter_than_a_beat_with_no_beat_ahead_is_kept_as_asked() -> None:
    assert next_beat(100.3, 0.5) == pytest.approx(100.8)
    assert next_beat(100.7, 0.5) == 101.0  # a beat lies ahead: it is taken


def test_a_finer_grid_such_as_the_wheels_tick_divides_the_beat() -> None:
    tick = 25.0 / 100
    assert next_beat(100.9, tick, tick) == 101.0
    assert BEAT_S % tick == 0  # so at the default period a tick falls on every beat


async def test_sleeping_to_a_beat_wakes_on_the_grid() -> None:
    loop = asyncio.get_running_loop()
    await sleep_to_beat(0.5, 0.5)
    late = loop.time() % 0.5  # how far past the multiple it woke
    assert late < 0.25, late  # on the grid, give or take a loaded machine's lateness
