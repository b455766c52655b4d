"""The lifecycle tables: every transition, and refusals that name state and action."""

from __future__ import annotations

import pytest

from hub.core import lifecycle
from hub.core.lifecycle import TransitionError, next_status

HAPPY_PATH = [
    ("open", "acknowledge", "acknowledged"),
    ("acknowledged", "accept", "dispatched"),
    ("dispatched", "on_scene", "on_scene"),
    ("on_scene", "resolve", "resolved"),
]


@pytest.mark.parametrize(("state", "action", "target"), HAPPY_PATH)
def test_happy_path(state: str, action: str, target: str) -> None:
    assert next_status(state, action) == target


@pytest.mark.parametrize("state", sorted(lifecycle.LIVE))
def test_close_and_merge_from_any_live_state(state: str) -> None:
    assert next_status(state, "close") == "closed"
    assert next_status(state, "merge") == "merged"


@pytest.mark.parametrize("state", sorted(lifecycle.TERMINAL))
@pytest.mark.parametrize("action", sorted(lifecycle.INCIDENT_TRANSITIONS))
def test_nothing_leaves_a_terminal_state(state: str, action: str) -> None:
    with pytest.raises(TransitionError, match=f"cannot {action} an incident that is {state}"):
        next_status(state, action)


@pytest.mark.parametrize(
    ("state", "action"),
    [("dispatched", "reject"), ("on_scene", "reject"), ("open", "on_scene"),
     ("open", "resolve"), ("acknowledged", "acknowledge"), ("dispatched", "accept")],
)  # fmt: skip
def test_refused_transitions(state: str, action: str) -> None:
    with pytest.raises(TransitionError):
        next_status(state, action)


def test_every_target_is_known_and_terminal_ones_are_not_live() -> None:
    targets = {target for _, target in lifecycle.INCIDENT_TRANSITIONS.values()}
    assert targets <= lifecycle.LIVE | lifecycle.TERMINAL
    assert not lifecycle.LIVE & lifecycle.TERMINAL


def test_citizens_see_a_status_and_a_fixed_note_for_every_incident_change() -> None:
    for target in {t for _, t in lifecycle.INCIDENT_TRANSITIONS.values()}:
        alert_status = lifecycle.ALERT_STATUS_FOR[target]
        assert lifecycle.ALERT_STATUS_NOTES[alert_status]
    assert lifecycle.ALERT_STATUS_FOR["closed"] == "resolved"


def test_unit_status_follows_its_actions() -> None:
    assert lifecycle.UNIT_STATUS_AFTER == {
        "accept": "en_route", "on_scene": "on_scene", "resolve": "available",
        "release": "available",
    }  # fmt: skip
