"""Who is calling an HTTP endpoint: the bearer token, checked once for every API.

The REST API, the web apps' API and the interop exports take the same tokens as
`/ws` (HS256 or the identity provider's, `hub.server.jwks`), and answer the same
errors in the API's JSON shape: 401 without a valid token or for a town not
served here, 403 for a role the endpoint does not serve.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.core.tokens import Claims, TokenError
from hub.server.jwks import KeySource
from hub.server.node import Node, TenantRuntime

__all__ = ["Refused", "caller"]


class Refused(Exception):
    """A request answered with an error: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        """The error as the API's JSON shape."""
        return JSONResponse({"error": self.code, "message": self.message}, self.status)


async def caller(request: Request, role: str | None = None) -> tuple[Claims, TenantRuntime]:
    """The verified claims and tenant of the request's bearer token.

    Raises:
        Refused: 401 (no or bad token, tenant not served), 403 (not `role`).
    """
    wanted = f"a {role} bearer token" if role else "a bearer token"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    keys: KeySource = request.app.state.keys
    try:
        if scheme.lower() != "bearer":
            raise TokenError("no bearer token")
        claims = await keys.verify(token)
    except TokenError:
        raise Refused(401, "unauthorized", f"{wanted} is required") from None
    if role is not None and claims.role != role:
        raise Refused(403, "forbidden", f"{role}s only")
    node: Node = request.app.state.node
    rt = node.tenants.get(claims.tenant)
    if rt is None:
        raise Refused(401, "unauthorized", "unknown tenant")
    return claims, rt
