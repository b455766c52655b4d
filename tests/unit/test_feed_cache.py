"""The public feed's reuse cache: fresh for FEED_REUSE_S, bounded, oldest out first."""

from __future__ import annotations

import pytest

from hub.server import interop
from hub.server.interop import FEED_CACHE_MAX, FEED_REUSE_S, FeedCache


def test_a_feed_is_reused_for_a_few_seconds_then_rendered_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(interop.time, "monotonic", lambda: clock[0])
    cache = FeedCache()
    cache.put(("narbonne", "u"), b"<feed/>")
    clock[0] += FEED_REUSE_S - 0.1
    assert cache.get(("narbonne", "u")) == b"<feed/>"
    assert cache.get(("gruissan", "u")) is None  # towns apart
    clock[0] += 0.2
    assert cache.get(("narbonne", "u")) is None


def test_the_cache_is_bounded_whatever_hosts_are_asked() -> None:
    cache = FeedCache()
    for i in range(FEED_CACHE_MAX * 3):  # e.g. a flood with made-up Host headers
        cache.put(("narbonne", f"http://h{i}/api/v1/notices.atom"), b"x")
    assert len(cache._feeds) == FEED_CACHE_MAX
    assert cache.get(("narbonne", "http://h0/api/v1/notices.atom")) is None
    assert cache.get(("narbonne", f"http://h{FEED_CACHE_MAX * 3 - 1}/api/v1/notices.atom"))
