"""Token buckets with an explicit clock: pure, so tests need no sleeping."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """`capacity` tokens, refilled at `rate_per_s`; `capacity == 0` never limits."""

    capacity: float
    rate_per_s: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take `cost` tokens. Returns 0 if allowed, else seconds until it would be."""
        if self.capacity <= 0:
            return 0.0
        if self.tokens < 0:  # first use: start full
            self.tokens, self.updated = self.capacity, now
        elapsed = max(0.0, now - self.updated)  # a clock stepping back refills nothing
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_s)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate_per_s
