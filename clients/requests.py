"""Requests waiting for their reply: the `ref` → future table of a connection.

Rule: a reply is any message carrying a waiting request's `ref` and no
`offset` (pushed stream messages never answer a request). What happens to a
waiting request when its session ends is decided here: a request that may be
resent (`alert.submit`, idempotent by `ref`) waits for the next session;
any other one fails with `ConnectionLost`, since it may or may not have run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from clients.codec import Message
from clients.errors import ClientError, ConnectionLost

__all__ = ["PendingRequest", "PendingRequests"]


@dataclass(slots=True)
class PendingRequest:
    """A request waiting for the reply that carries its `ref`."""

    message: Message
    future: asyncio.Future[Message]
    resend: bool
    session: int = 0  # the session it was last sent on (0: not sent yet)

    @property
    def ref(self) -> str:
        """The request's `ref`."""
        return str(self.message["ref"])


class PendingRequests:
    """The requests of one connection that still wait for a reply."""

    def __init__(self) -> None:
        self._by_ref: dict[str, PendingRequest] = {}

    def __iter__(self) -> Iterator[PendingRequest]:
        return iter(list(self._by_ref.values()))

    def open(self, message: Message, *, resend: bool) -> PendingRequest:
        """Register a request (a `ref` is generated when the message has none).

        Raises:
            ValueError: A request with the same `ref` is already waiting.
        """
        ref = message.get("ref") or uuid.uuid4().hex
        if ref in self._by_ref:
            raise ValueError(f"a request with ref {ref!r} is already waiting")
        loop = asyncio.get_running_loop()
        pending = PendingRequest({**message, "ref": ref}, loop.create_future(), resend)
        self._by_ref[ref] = pending
        return pending

    def forget(self, pending: PendingRequest) -> None:
        """Stop waiting for `pending` (answered, timed out or abandoned)."""
        self._by_ref.pop(pending.ref, None)
        if pending.future.done() and not pending.future.cancelled():
            pending.future.exception()  # mark it retrieved: no "never retrieved" report

    def answer(self, message: Message) -> bool:
        """Hand `message` to the request it answers; False if it answers none."""
        ref = message.get("ref")
        if not isinstance(ref, str) or "offset" in message:
            return False
        pending = self._by_ref.get(ref)
        if pending is None or pending.future.done():
            return False
        pending.future.set_result(message)
        return True

    def session_lost(self, session: int) -> None:
        """Fail the requests sent on `session` that may not be resent."""
        lost = ConnectionLost(f"session {session} ended before the reply")
        for pending in self._by_ref.values():
            if not (pending.resend or pending.future.done()) and pending.session == session:
                pending.future.set_exception(lost)

    def fail_all(self, error: ClientError) -> None:
        """Fail every waiting request (the connection stopped)."""
        for pending in self._by_ref.values():
            if not pending.future.done():
                pending.future.set_exception(error)
