"""Which exceptions of a loop's turn are outages (waited out) and which are errors."""

from __future__ import annotations

import pytest
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ClusterError,
    MasterDownError,
    MovedError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.core.records import BadRecord
from hub.core.supervision import Fault
from hub.server.metrics import Metrics
from hub.server.supervision import classify, skip


@pytest.mark.parametrize(
    "exc",
    [
        RedisConnectionError("refused"),
        RedisTimeoutError("timeout"),
        BusyLoadingError("LOADING"),
        ReadOnlyError("READONLY"),
        TryAgainError("TRYAGAIN"),
        ClusterDownError("CLUSTERDOWN"),
        MasterDownError("MASTERDOWN"),
        ClusterError("TTL exhausted."),
        SlotNotCoveredError("slot"),
        MovedError("3999 127.0.0.1:6381"),
        ConnectionResetError(),
        TimeoutError(),
    ],
)
def test_outages(exc: Exception) -> None:
    assert classify(exc) is Fault.OUTAGE


@pytest.mark.parametrize(
    "exc",
    [
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        ResponseError("ERR user_script:12: attempt to index a nil value"),
        KeyError("cell"),
        ValueError("invalid literal for int()"),
        RuntimeError("a bug"),
    ],
)
def test_errors(exc: Exception) -> None:
    assert classify(exc) is Fault.ERROR


def test_metrics_render_loop_errors_and_bad_records() -> None:
    metrics = Metrics()
    metrics.loop_errors[("deadlines", "narbonne", "error")] += 2
    skip(metrics, "narbonne", BadRecord("events", "1-0", "no kind (field k)"))
    text = metrics.render()
    assert 'vigie_loop_errors_total{loop="deadlines",tenant="narbonne",fault="error"} 2' in text
    assert 'vigie_bad_records_total{source="events",tenant="narbonne"} 1' in text
    assert "# TYPE vigie_bad_records_total counter" in text
