"""Connection admission: per-IP and per-token connection caps, connection rate.

Counts are per process (each process admits its own share); limits of 0 mean
off. Mobile carriers put many citizens behind one address, so the per-IP
default is generous; VIGIE_LIMITS=off turns all of them off for load tests.
"""

from __future__ import annotations

import time
from collections import Counter

from hub.config import HubSettings
from hub.core.ratelimit import TokenBucket, client_key
from hub.core.tokens import Claims

__all__ = ["Admission"]


class Admission:
    """Decides whether a new connection or session may start."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        rate = settings.connect_rate
        self._rate = TokenBucket(0 if rate.unlimited else rate.count, rate.count / rate.per_s)
        self._per_ip: Counter[str] = Counter()
        self._per_token: Counter[tuple[str, str, str]] = Counter()
        self.refused = 0

    def admit_connection(self, peer: str) -> bool:
        """Count a new connection from `peer` (by `client_key`: an IPv6 /64 is one
        client); False when over a limit (then not counted)."""
        peer = client_key(peer)
        cap = self.settings.connections_per_ip
        # The per-IP cap first: an address hammering at its cap must not spend the
        # shared connection rate, or it would lock every other address out.
        if (cap and self._per_ip[peer] >= cap) or self._rate.take(time.monotonic()) > 0:
            self.refused += 1
            return False
        self._per_ip[peer] += 1
        return True

    def release_connection(self, peer: str) -> None:
        """A connection admitted by `admit_connection` ended."""
        peer = client_key(peer)
        self._per_ip[peer] -= 1
        if self._per_ip[peer] <= 0:
            del self._per_ip[peer]

    def admit_token(self, claims: Claims) -> bool:
        """Count a session for an identity; False when it has too many already."""
        key = (claims.tenant, claims.role, claims.sub)
        cap = self.settings.connections_per_token
        if cap and self._per_token[key] >= cap:
            self.refused += 1
            return False
        self._per_token[key] += 1
        return True

    def release_token(self, claims: Claims) -> None:
        """A session admitted by `admit_token` ended."""
        key = (claims.tenant, claims.role, claims.sub)
        self._per_token[key] -= 1
        if self._per_token[key] <= 0:
            del self._per_token[key]
