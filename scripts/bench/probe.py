"""A durable write alone, timed on the benchmark's Redis while the load runs.

The hub acks an alert once Redis has run its script and (with `appendfsync
always`) written it to disk: no ack can be faster than one such write on the
same Redis at the same moment. This probe measures that floor beside the hub's
latencies: a thread of the benchmark's own process runs a one-command script
(`INCR` of a key of its own, so it goes through the same AOF and fsync) at a
low fixed rate, over its own connection, and times each call. It adds a few
writes a second to a Redis taking hundreds: not enough to move the figures it
sits beside.
"""

from __future__ import annotations

import array
import threading
import time
from typing import Any

from bench.report import summarize

__all__ = ["DurableWriteProbe"]

PROBE_KEY = "bench:probe"  # outside every tenant's prefix: the hub never reads it
SCRIPT = "return redis.call('INCR', KEYS[1])"


class DurableWriteProbe:
    """`start()`, then `stop()` returns p50/p95/p99/max of the timed writes (ms)."""

    def __init__(self, redis_url: str, every_s: float = 0.05) -> None:
        self.redis_url = redis_url
        self.every_s = every_s
        self._samples: array.array[int] = array.array("q")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start timing writes in the background."""
        self._thread = threading.Thread(target=self._run, name="durable-probe", daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop, and summarise what was timed (raises what the thread failed with)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._error is not None:
            raise RuntimeError(f"durable-write probe failed: {self._error!r}")
        return summarize(self._samples)

    def _run(self) -> None:
        from redis import Redis

        client = Redis.from_url(self.redis_url)
        try:
            sha = client.script_load(SCRIPT)
            next_at = time.monotonic()
            while not self._stop.is_set():
                t0 = time.perf_counter_ns()
                client.evalsha(sha, 1, PROBE_KEY)
                self._samples.append(time.perf_counter_ns() - t0)
                next_at += self.every_s
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:  # reported by stop(): a broken probe must not pass as 0 ms
            self._error = exc
        finally:
            client.close()
