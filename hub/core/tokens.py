"""Session tokens: HS256 JWTs with claims sub, role, tenant, exp (PyJWT)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from hub.core.messages import ID_MAX, ROLES

__all__ = ["Claims", "TokenError", "issue_token", "verify_token"]

ALGORITHM = "HS256"
LEEWAY_S = 5  # clock skew tolerated between the token issuer and the hub


class TokenError(ValueError):
    """The token is missing, malformed, forged, expired or has bad claims."""


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
    """Verify signature and expiry and return the claims. Raises TokenError."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_S,
            options={"require": ["sub", "role", "tenant", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(type(exc).__name__) from exc
    sub, role, tenant = payload["sub"], payload["role"], payload["tenant"]
    if not all(isinstance(v, str) and 0 < len(v) <= ID_MAX for v in (sub, role, tenant)):
        raise TokenError("sub, role and tenant must be short strings")
    if role not in ROLES:
        raise TokenError("unknown role")
    return Claims(sub, role, tenant, int(payload["exp"]))
