"""The stream reader's blocking read, against the canary and the socket timeout."""

from __future__ import annotations

from hub.server import app, node


def test_the_read_outlasts_a_canary_period_and_stays_under_the_socket_timeout() -> None:
    # Longer than the canary period: at rest the read returns with a canary, not on
    # its own timer. Shorter than the socket timeout: a blocked read is never
    # mistaken for a hung Redis.
    assert node.CANARY_PERIOD_S * 1000 < node.FOLLOW_BLOCK_MS < app.REDIS_TIMEOUT_S * 1000
