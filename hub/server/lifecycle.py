"""What happens when a session opens (welcome, presence, resume) and closes."""

from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError

from hub.core.errors import CloseCode
from hub.core.messages import Hello
from hub.core.records import BadRecord, unit_change_problem
from hub.core.session import Opening
from hub.core.tokens import Claims, TokenError
from hub.server.admission import Admission
from hub.server.handlers import now_ms
from hub.server.jwks import KeySource
from hub.server.node import Node, TenantRuntime
from hub.server.resume import synchronise
from hub.server.session import Session
from hub.server.supervision import skip
from hub.store.neighbours import load_cells

__all__ = ["authenticate", "opening", "session_closed", "session_opened"]

log = logging.getLogger("vigie.lifecycle")


async def authenticate(keys: KeySource, token: str) -> Claims | None:
    """The claims of a hello's token, or None when it is refused (logged)."""
    try:
        return await keys.verify(token)
    except TokenError as exc:
        log.info("refused token: %s", exc)
        return None


def opening(node: Node, admission: Admission, claims: Claims | None) -> Opening:
    """What opening a session for `claims` meets, checked in protocol.md's order.

    A token admitted here is counted: the caller releases it on every outcome
    but OK (which releases it when the session ends).
    """
    if claims is None:
        return Opening.BAD_TOKEN
    if not admission.admit_token(claims):
        return Opening.TOO_MANY
    if node.failed is not None:  # this process cannot feed a session any more
        return Opening.FAILED
    if node.draining:  # shutting down: go to another process straight away
        return Opening.DRAINING
    return Opening.OK


async def session_opened(node: Node, session: Session, hello: Hello) -> bool:
    """Register, welcome and synchronise an opened session; False if it had to be closed.

    Whether it may open at all (token, admission, a failed or draining process)
    is the session protocol's decision (hub.core.session), taken before.
    """
    node.register(session)
    try:
        if session.role == "unit":
            await _unit_online(node, session)
        elif session.role == "citizen":  # an opt-in holds from the next hello, anywhere
            rt = node.runtime(session)
            node.set_neighbours(session, await load_cells(node.store.redis, rt.keys, session.sub))
        session.send_message(
            {
                "type": "welcome",
                "session": session.id,
                "role": session.role,
                "sub": session.sub,
                "tenant": session.tenant.id,
                "heartbeat_s": _whole(node.config.hub.heartbeat_s),
                "at": now_ms(),
            }
        )
        await synchronise(node, session, hello.resume)
    except (RedisError, OSError) as exc:
        log.warning("session %s: Redis unavailable during open: %s", session.id, exc)
        # No session can be brought up to date while Redis is away: come back later.
        session.close(CloseCode.TRY_AGAIN_LATER, "storage unavailable, retry")
        return False
    return session.close_code is None


def _whole(seconds: float) -> float | int:
    """25.0 → 25: the contract shows whole seconds."""
    return int(seconds) if float(seconds).is_integer() else seconds


async def session_closed(node: Node, session: Session) -> None:
    """Unregister a session; a unit's last session going away marks it offline."""
    node.unregister(session)
    if session.close_code is not None:
        node.metrics.closes[session.close_code] += 1
    if session.role != "unit" or not session.presence_counted:
        return  # only take back the +1 this session added
    try:
        rt = node.runtime(session)
        await node.store.unit_update(
            rt.keys, session.sub, "offline", {"last_seen": now_ms()}, sessions_delta=-1
        )
    except (RedisError, OSError) as exc:
        log.warning("unit %s offline not recorded: %s", session.sub, exc)


def _saved_coverage(
    node: Node, rt: TenantRuntime, unit_id: str, state: dict[str, str]
) -> tuple[list[str], str | None]:
    """The unit's saved sector and cell; none when they are garbage (the unit re-sends them)."""
    try:
        sector = json.loads(state["sector"]) if state.get("sector") else []
    except ValueError:
        sector = None
    cell = state.get("cell") or None
    problem = (
        "sector is not JSON"
        if sector is None
        else unit_change_problem({"sector": sector, "cell": cell})
    )
    if problem is not None:
        skip(node.metrics, rt.config.id, BadRecord("unit", rt.keys.unit(unit_id), problem))
        return [], None
    return sector or [], cell


async def _unit_online(node: Node, session: Session) -> None:
    """Restore the unit's coverage from Redis and announce it online."""
    rt = node.runtime(session)
    state = await node.store.unit_state(rt.keys, session.sub)
    sector, cell = _saved_coverage(node, rt, session.sub, state)
    node.set_unit_state(rt, session.sub, sector=sector, cell=cell)
    fields: dict[str, str | int | float] = {"last_seen": now_ms(), "node": node.node_id}
    if "status" not in state:
        fields["status"] = "available"
    await node.store.unit_update(rt.keys, session.sub, "online", fields, sessions_delta=1)
    session.presence_counted = True
