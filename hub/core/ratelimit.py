"""Token buckets with an explicit clock: pure, so tests need no sleeping."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["IPV6_PREFIX", "BucketTable", "TokenBucket", "client_key"]

# An IPv6 subscriber usually holds a whole /64 and may pick any source address in
# it: counted per address, one host would get a fresh allowance for every request.
IPV6_PREFIX = 64


def client_key(address: str) -> str:
    """What per-client limits count by: the IPv4 address, or the IPv6 /64 it is in.

    An IPv4-mapped IPv6 address (a dual-stack listener) counts as its IPv4 address;
    anything that is not an IP address (a Unix socket's peer) counts as itself.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


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


class BucketTable:
    """One TokenBucket per key (a client address), at most `size` of them.

    When the table is full, a new key evicts the least recently used one: the
    key idle longest, whose bucket has most likely refilled, so forgetting it
    gives back little. Only more than `size` keys active within one refill
    period (capacity / rate) can make an evicted key start full again early.
    """

    def __init__(self, capacity: float, rate_per_s: float, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.capacity, self.rate_per_s, self.size = capacity, rate_per_s, size
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Take from `key`'s bucket: 0 if allowed, else seconds until it would be."""
        if self.capacity <= 0:  # off: remember nobody
            return 0.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.size:
                self._buckets.popitem(last=False)
                self.evicted += 1
            bucket = self._buckets[key] = TokenBucket(self.capacity, self.rate_per_s)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now, cost)
