"""The identity provider's public keys: fetched, cached, refreshed.

A town's identity provider (Keycloak, Azure AD, an SSO portal) publishes its
signing keys as a JSON Web Key Set, from a URL (`/protocol/openid-connect/certs`
for Keycloak) or exported to a file. The hub loads it at start-up and again
every `jwks_refresh_s`, and at once (at most every `MIN_REFETCH_S`) when a token
names a key id it has not seen: that is how a key rotation reaches the hub
before the next period. A failed fetch keeps the keys the hub had: the
provider being briefly away must not lock every officer out.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
from pathlib import Path

import jwt
import orjson

from hub.config import AuthSettings
from hub.core.tokens import Claims, TokenVerifier, UnknownKeyError

__all__ = ["JWKS_MAX_BYTES", "KeySource", "load_key_set", "verifier_for"]

log = logging.getLogger("vigie.jwks")

JWKS_MAX_BYTES = 1 << 20  # a key set is a few KiB; anything larger is not one
FETCH_TIMEOUT_S = 5.0
MIN_REFETCH_S = 30.0  # an unknown kid triggers at most one fetch this often


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        request = urllib.request.Request(source, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            body: bytes = response.read(JWKS_MAX_BYTES + 1)
    else:
        body = Path(source).read_bytes()
    if len(body) > JWKS_MAX_BYTES:
        raise ValueError(f"JWKS larger than {JWKS_MAX_BYTES} bytes")
    return body


def load_key_set(source: str) -> jwt.PyJWKSet:
    """Read and parse a JWKS from a file path or an http(s) URL (blocking)."""
    return jwt.PyJWKSet.from_dict(orjson.loads(_read(source)))


class KeySource:
    """Keeps a `TokenVerifier`'s key set current; the only I/O of token checks."""

    def __init__(self, verifier: TokenVerifier, auth: AuthSettings) -> None:
        self.verifier = verifier
        self.auth = auth
        self.loaded_at: float | None = None  # monotonic time of the last good load
        self.last_ok = False
        self.failures = 0
        self._last_try = -MIN_REFETCH_S
        self._lock = asyncio.Lock()

    async def refresh(self) -> bool:
        """Fetch the key set now; True when it was loaded (else the old keys stay)."""
        assert self.auth.jwks is not None
        async with self._lock:
            self._last_try = time.monotonic()
            try:
                keys = await asyncio.to_thread(load_key_set, self.auth.jwks)
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                self.failures += 1
                self.last_ok = False
                log.error("JWKS %s could not be loaded: %s", self.auth.jwks, exc)
                return False
            self.verifier.set_keys(keys)
            self.loaded_at = time.monotonic()
            self.last_ok = True
            log.info("JWKS %s loaded: %d keys", self.auth.jwks, len(keys.keys))
            return True

    async def verify(self, token: str) -> Claims:
        """Verify a token; an unknown key id gets one (rate-limited) refresh first."""
        try:
            return self.verifier.verify(token)
        except UnknownKeyError:
            if self.auth.jwks is None or time.monotonic() - self._last_try < MIN_REFETCH_S:
                raise
        await self.refresh()
        return self.verifier.verify(token)

    async def run(self) -> None:
        """Refresh every `jwks_refresh_s`, every `MIN_REFETCH_S` while fetches fail."""
        while True:
            await asyncio.sleep(self.auth.jwks_refresh_s if self.last_ok else MIN_REFETCH_S)
            await self.refresh()

    def health(self) -> dict[str, object]:
        """What `/healthz` says of the key set."""
        keys = self.verifier.keys
        age = None if self.loaded_at is None else round(time.monotonic() - self.loaded_at, 1)
        return {"keys": 0 if keys is None else len(keys.keys), "age_s": age, "ok": self.last_ok}


def verifier_for(auth: AuthSettings, secret: str) -> TokenVerifier:
    """The verifier the configuration asks for (HS256 with `secret` unless turned off)."""
    return TokenVerifier(
        secret if auth.hs256 else None,
        issuer=auth.issuer,
        audience=auth.audience,
        algorithms=auth.algorithms if auth.jwks else (),
    )
