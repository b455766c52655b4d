"""How many replicas an ack waits for (hub.store.replication.AckPolicy): pure."""

from __future__ import annotations

import pytest

from hub.store.replication import AckPolicy


@pytest.mark.parametrize(("online", "required"), [(0, 0), (1, 1), (3, 1)])
def test_auto_waits_for_one_replica_once_the_primary_had_one(online: int, required: int) -> None:
    assert AckPolicy().required(online) == required


@pytest.mark.parametrize("online", [0, 1, 4])
def test_a_fixed_number_holds_whatever_the_topology(online: int) -> None:
    assert AckPolicy(fixed=2).required(online) == 2
    assert AckPolicy(fixed=0).required(online) == 0
