"""Session tokens: JWTs with claims sub, role, tenant, exp (PyJWT).

Two kinds of signature are accepted: HS256 with the hub's shared secret (the
hub's own tokens: `vigie token`, dev sign-in, tests), and RS256 / ES256 from a
town's identity provider, checked against the public keys of its JWKS with
the issuer and audience the hub is configured for. This module is pure: the
key set is handed in; fetching and refreshing it is `hub.server.jwks`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from hub.core.messages import ID_MAX, ROLES

__all__ = [
    "ASYMMETRIC",
    "Claims",
    "TokenError",
    "TokenVerifier",
    "UnknownKeyError",
    "issue_token",
    "verify_token",
]

ALGORITHM = "HS256"
LEEWAY_S = 5  # clock skew tolerated between the token issuer and the hub


ASYMMETRIC = ("RS256", "ES256")  # what an identity provider may sign with
REQUIRED = ["sub", "role", "tenant", "exp"]


class TokenError(ValueError):
    """The token is missing, malformed, forged, expired or has bad claims."""


class UnknownKeyError(TokenError):
    """The token names a key id the key set does not have (yet): refresh, then retry."""


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified identity of a session."""

    sub: str
    role: str
    tenant: str
    exp: int


def issue_token(
    secret: str, *, sub: str, role: str, tenant: str, ttl_s: int = 3600, now: float | None = None
) -> str:
    """Sign a token for `sub` in `role` at `tenant`, valid for `ttl_s` seconds."""
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    issued = int(time.time() if now is None else now)
    payload = {"sub": sub, "role": role, "tenant": tenant, "iat": issued, "exp": issued + ttl_s}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Claims:
    """Verify an HS256 token's signature and expiry and return the claims. Raises TokenError."""
    return _claims(_decode(token, secret, ["HS256"]))


def _decode(token: str, key: Any, algorithms: list[str], **checks: Any) -> dict[str, Any]:
    required = REQUIRED + [claim for claim in ("iss", "aud") if checks.get(claim[:3])]
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            leeway=LEEWAY_S,
            options={"require": required},
            issuer=checks.get("iss"),
            audience=checks.get("aud"),
        )
    except jwt.PyJWTError as exc:
        raise TokenError(type(exc).__name__) from exc
    return payload


def _claims(payload: dict[str, Any]) -> Claims:
    sub, role, tenant = payload["sub"], payload["role"], payload["tenant"]
    if not all(isinstance(v, str) and 0 < len(v) <= ID_MAX for v in (sub, role, tenant)):
        raise TokenError("sub, role and tenant must be short strings")
    if role not in ROLES:
        raise TokenError("unknown role")
    return Claims(sub, role, tenant, int(payload["exp"]))


class TokenVerifier:
    """Verifies the hub's HS256 tokens and, when configured, an identity provider's.

    The algorithm is read from the token's header only to choose the *kind* of
    key: an HS256 token is checked with the shared secret alone and an RS256 /
    ES256 token with a JWKS public key alone, so a token cannot pass an
    asymmetric public key off as an HMAC secret (the classic algorithm
    confusion), and `none` is never accepted.
    """

    def __init__(
        self,
        secret: str | None,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        algorithms: tuple[str, ...] = ASYMMETRIC,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(a for a in algorithms if a in ASYMMETRIC)
        self.keys: jwt.PyJWKSet | None = None

    def set_keys(self, keys: jwt.PyJWKSet) -> None:
        """Replace the identity provider's key set (after a fetch or a refresh)."""
        self.keys = keys

    def verify(self, token: str) -> Claims:
        """Return the verified claims. Raises TokenError (UnknownKeyError for an unknown kid)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from exc
        alg = header.get("alg")
        if alg == "HS256" and self.secret:
            return _claims(_decode(token, self.secret, ["HS256"]))
        if alg in self.algorithms and self.keys is not None:
            key = self._key(header.get("kid"), str(alg))
            payload = _decode(token, key, [str(alg)], iss=self.issuer, aud=self.audience)
            return _claims(payload)
        raise TokenError(f"algorithm {alg!r} is not accepted here")

    def _key(self, kid: object, alg: str) -> Any:
        assert self.keys is not None
        if isinstance(kid, str):
            try:
                return self.keys[kid].key
            except KeyError:
                raise UnknownKeyError("unknown key id") from None
        # No kid: acceptable only when one key of the key set can sign with alg.
        candidates = [k for k in self.keys.keys if k.algorithm_name == alg]
        if len(candidates) != 1:
            raise TokenError("token without kid and no single key for its algorithm")
        return candidates[0].key
