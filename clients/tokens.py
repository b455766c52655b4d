"""Session tokens for clients that know the hub's secret (demo, tests, benchmarks).

The only part of the client library that depends on `hub`: tokens are minted
with the hub's own `issue_token`, so they can never drift from what it verifies.
"""

from __future__ import annotations

from clients.connection import TokenProvider
from hub.core.tokens import issue_token

__all__ = ["mint_token", "token_source"]


def mint_token(secret: str, *, role: str, sub: str, tenant: str, ttl_s: int = 3600) -> str:
    """A signed JWT for `sub` acting as `role` at `tenant`, valid `ttl_s` seconds."""
    return issue_token(secret, sub=sub, role=role, tenant=tenant, ttl_s=ttl_s)


def token_source(
    secret: str, *, role: str, sub: str, tenant: str, ttl_s: int = 3600
) -> TokenProvider:
    """A `token_provider` that mints a fresh token each time the hub refuses one."""

    async def provide() -> str | None:
        return mint_token(secret, role=role, sub=sub, tenant=tenant, ttl_s=ttl_s)

    return provide
