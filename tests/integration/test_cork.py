"""A session's frames of one turn leave in one write system call (hub.server.cork),
in order and complete: a resuming console gets its whole replay in a few writes."""

from __future__ import annotations

from hub.server.runner import RunningHub
from tests.integration.test_console import SPOTS, Town
from tests.wire import connect

MISSED = 40


async def test_a_replay_is_written_in_a_few_system_calls_and_in_order(
    hub: RunningHub,
) -> None:
    town = Town(hub.ws_url)
    console, _ = await connect(hub.ws_url, "console", "op")
    await console.expect("snapshot")
    first = await town.report(SPOTS[0])
    last = (await console.expect("incident", where=lambda m: m["incident"]["id"] == first))[
        "offset"
    ]
    await console.close()
    missed = [await town.report(SPOTS[n % len(SPOTS)]) for n in range(MISSED)]  # some join
    await town.close()

    metrics = hub.node.metrics
    frames, writes = metrics.frames_written, metrics.socket_writes
    console, _ = await connect(hub.ws_url, "console", "op", resume={"events": last})
    replayed = [await console.expect("incident") for _ in missed]
    frames, writes = metrics.frames_written - frames, metrics.socket_writes - writes
    assert [e["incident"]["id"] for e in replayed] == missed
    offsets = [e["offset"] for e in replayed]
    assert offsets == sorted(offsets, key=lambda o: tuple(map(int, o.split("-"))))
    assert frames >= MISSED + 1  # the welcome and the replay
    assert writes <= 4, (frames, writes)  # one per frame before corking
    await console.close()
