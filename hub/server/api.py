"""HTTP API for consoles: an incident, its reports and its audit trail; a resident's erasure.

`Authorization: Bearer <console token>`; the tenant is the token's. 401 without
a valid token, 403 for other roles.

- `GET /api/v1/incidents/{id}`: the incident view and its history.
- `POST /api/v1/citizens/{id}/erase`: the right to erasure (docs/privacy.md).
"""

from __future__ import annotations

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub import maintenance
from hub.core.privacy import check_citizen_id
from hub.core.tokens import Claims
from hub.server.bearer import Refused, caller
from hub.server.node import Node, TenantRuntime

__all__ = ["erase_citizen", "get_incident"]


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _console(request: Request) -> tuple[Claims, TenantRuntime] | Response:
    """The console's claims and tenant, or the error to answer."""
    try:
        return await caller(request, "console")
    except Refused as refused:
        return refused.response()


async def get_incident(request: Request) -> Response:
    """The incident view, its history, for a console of the incident's tenant."""
    node: Node = request.app.state.node
    console = await _console(request)
    if isinstance(console, Response):
        return console
    _, rt = console
    found = await node.dispatch.incident(rt.keys, request.path_params["incident"][:64])
    if found is None:
        return _error(404, "not_found", "no such incident")
    incident, history = found
    reports = await node.dispatch.reports(rt.keys, incident["id"])
    return JSONResponse({"incident": incident, "history": history, "reports": reports})


async def erase_citizen(request: Request) -> Response:
    """Erase a resident of the console's tenant; answers what was removed (counts).

    A resident never seen and one already erased look the same (200, zero
    alerts): the hub keeps nothing that could tell them apart.
    """
    node: Node = request.app.state.node
    console = await _console(request)
    if isinstance(console, Response):
        return console
    claims, rt = console
    try:
        citizen = check_citizen_id(request.path_params["citizen"])
    except ValueError as exc:
        return _error(400, "bad_request", str(exc))
    try:
        report = await maintenance.erase(
            node.store.redis, node.store.scripts, node.config, rt.config, citizen,
            by=claims.sub, session="api",
        )  # fmt: skip
    except (RedisError, OSError):
        return _error(503, "unavailable", "storage unavailable: nothing reported erased; retry")
    return JSONResponse({"erased": report.to_json()})
