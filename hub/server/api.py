"""Read-only HTTP API for consoles: an incident, its reports and its audit trail.

`GET /api/v1/incidents/{id}` with `Authorization: Bearer <console token>`;
the tenant is the token's. 401 without a valid token, 403 for other roles.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.core.tokens import TokenError, verify_token
from hub.server.node import Node

__all__ = ["get_incident"]


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def get_incident(request: Request) -> Response:
    """The incident view, its reports, its history, for a console of its tenant."""
    node: Node = request.app.state.node
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise TokenError("no bearer token")
        claims = verify_token(request.app.state.secret, token)
    except TokenError:
        return _error(401, "unauthorized", "a console bearer token is required")
    if claims.role != "console":
        return _error(403, "forbidden", "consoles only")
    rt = node.tenants.get(claims.tenant)
    if rt is None:
        return _error(401, "unauthorized", "unknown tenant")
    found = await node.dispatch.incident(rt.keys, request.path_params["incident"][:64])
    if found is None:
        return _error(404, "not_found", "no such incident")
    incident, history = found
    reports = await node.dispatch.reports(rt.keys, incident["id"])
    return JSONResponse({"incident": incident, "history": history, "reports": reports})
