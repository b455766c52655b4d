"""One session's protocol, sans I/O: what to do with each frame, entry and close.

Rule: every decision about one session that does not need I/O lives here —
whether a first frame is a hello, whether the hello opens a session, how
frames are refused (undecodable, rate-limited) and when refusals are a flood,
which live entries wait while the session is syncing, which offsets it already
has (its floors), and which close wins. The server feeds it frames and
outcomes and does what it answers (send, close, deliver); tests feed it
messages and bytes only, the way websockets tests its own protocol.

States (h11's style: a transition missing from `TRANSITIONS` is an error that
names the state and the event)::

    AWAITING_HELLO --opened--> SYNCING --synced--> LIVE
          |                     |    ^              |  |
          |                     |    +----held------+  |
          +-------- close ------+------- close --------+--> CLOSING --lost--> CLOSED

A connection lost in any state goes straight to CLOSED. A live session goes
back to SYNCING while a request reads a snapshot mid-session (`hold`): the
entries that arrive meanwhile wait, so they reach the client after the
snapshot's reply and cannot be overwritten by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from hub.core.codec import Codec, decode
from hub.core.errors import CloseCode, ErrorCode, ProtocolError
from hub.core.messages import ClientMessage, Hello, parse_message, read_ref
from hub.core.offsets import ZERO
from hub.core.ratelimit import TokenBucket

__all__ = [
    "FLOOD_CLOSE_AFTER",
    "PENDING_MAX",
    "Close",
    "Opening",
    "Refused",
    "SessionProtocol",
    "SessionProtocolError",
    "State",
    "first_frame",
]

FLOOD_CLOSE_AFTER = 20  # consecutive refused frames (undecodable or rate-limited) → 4429
PENDING_MAX = 10_000  # live entries buffered while a resume replays; beyond it: 4408

E = TypeVar("E")  # a live entry (the server's StreamEntry): opaque here


class State(Enum):
    """Where a session is in its life."""

    AWAITING_HELLO = "awaiting_hello"
    SYNCING = "syncing"  # registered; replaying what it missed, live entries buffered
    LIVE = "live"
    CLOSING = "closing"  # a close was decided; the close frame is on its way
    CLOSED = "closed"


class Event(Enum):
    """What moves a session between states."""

    OPENED = "opened"
    SYNCED = "synced"
    HELD = "held"
    CLOSE = "close"
    LOST = "lost"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.AWAITING_HELLO, Event.OPENED): State.SYNCING,
    (State.AWAITING_HELLO, Event.CLOSE): State.CLOSING,
    (State.AWAITING_HELLO, Event.LOST): State.CLOSED,
    (State.SYNCING, Event.SYNCED): State.LIVE,
    (State.SYNCING, Event.CLOSE): State.CLOSING,
    (State.SYNCING, Event.LOST): State.CLOSED,
    (State.LIVE, Event.HELD): State.SYNCING,
    (State.LIVE, Event.CLOSE): State.CLOSING,
    (State.LIVE, Event.LOST): State.CLOSED,
    (State.CLOSING, Event.LOST): State.CLOSED,
}


class SessionProtocolError(Exception):
    """An event the session's state does not allow (a hub bug, never a client's)."""


@dataclass(frozen=True, slots=True)
class Close:
    """A decision to close the session with `code`."""

    code: int
    reason: str


class Opening(Enum):
    """What the server found out about a hello, in the order it checks."""

    OK = "ok"
    BAD_TOKEN = "bad_token"  # invalid, expired or missing token, or an unknown tenant
    TOO_MANY = "too_many"  # the identity has too many sessions already
    FAILED = "failed"  # this process cannot feed sessions any more
    DRAINING = "draining"  # this process is shutting down


REFUSED_OPENINGS: dict[Opening, Close] = {
    Opening.BAD_TOKEN: Close(CloseCode.UNAUTHORIZED, "unauthorized"),
    Opening.TOO_MANY: Close(CloseCode.TOO_MANY, "too many sessions for this token"),
    Opening.FAILED: Close(CloseCode.INTERNAL_ERROR, "hub process failed: reconnect elsewhere"),
    Opening.DRAINING: Close(CloseCode.SERVICE_RESTART, "hub restarting: reconnect elsewhere"),
}

BAD_HELLO = Close(CloseCode.BAD_HELLO, "first frame must be a valid hello")
FLOOD = Close(CloseCode.TOO_MANY, "flood of refused messages")
PENDING_OVERFLOW = Close(CloseCode.TOO_SLOW, "too many live events during resume")


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame answered with an `error` instead of being handled.

    `counts` is True for the refusals that make a flood (undecodable and
    rate-limited frames); a well-formed but invalid message does not count.
    """

    error: ProtocolError
    reply: dict[str, Any]
    counts: bool


def first_frame(frame: str | bytes | None, codec: Codec) -> Hello | Close:
    """The hello a first frame carries, or the 4400 close (None: none came in time).

    protocol.md: "a bad, expired or missing token ... closes with 4401"; 4400 is
    for a first frame that is not a hello. So a hello whose token is missing,
    empty or not a string becomes a hello with an empty token, which then
    fails authentication (`Opening.BAD_TOKEN`).
    """
    if frame is None:
        return BAD_HELLO
    try:
        raw = decode(frame, codec)
    except ProtocolError:
        return BAD_HELLO
    try:
        msg = parse_message(raw)
    except ProtocolError:
        if isinstance(raw, dict) and raw.get("type") == "hello":
            token = raw.get("token")
            if not isinstance(token, str) or not token:
                return Hello("", {})
        return BAD_HELLO
    return msg if isinstance(msg, Hello) else BAD_HELLO


class SessionProtocol(Generic[E]):
    """The state of one session and the decisions on it (no I/O, no clock)."""

    __slots__ = (
        "_refused",
        "bucket",
        "close_decided",
        "codec",
        "events_floor",
        "inbox_floor",
        "pending",
        "role",
        "state",
    )

    def __init__(self, codec: Codec, bucket: TokenBucket) -> None:
        self.codec = codec
        self.role = ""  # known once the hello's token is verified
        self.bucket = bucket
        self.state = State.AWAITING_HELLO
        self.pending: list[E] = []
        self.events_floor = ZERO  # last tenant-stream offset delivered
        self.inbox_floor = ZERO  # last personal-stream offset delivered
        self.close_decided: Close | None = None
        self._refused = 0

    def _move(self, event: Event) -> None:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise SessionProtocolError(f"session in state {self.state.value} got {event.value}")
        self.state = nxt

    # -- opening ------------------------------------------------------------------

    def hello(self, frame: str | bytes | None) -> Hello | Close:
        """The first frame's hello, or the 4400 close decided (None: none came in time)."""
        found = first_frame(frame, self.codec)
        if isinstance(found, Close):
            self.close(found)
        return found

    def open(self, outcome: Opening, role: str = "") -> Close | None:
        """Open the session of `role` after its hello (→ SYNCING), or the close refusing it."""
        refusal = REFUSED_OPENINGS.get(outcome)
        if refusal is not None:
            self.close(refusal)
            return refusal
        self._move(Event.OPENED)
        self.role = role
        return None

    @property
    def syncing(self) -> bool:
        """True while the session replays what it missed (live entries wait)."""
        return self.state is State.SYNCING

    def buffer(self, entry: E) -> Close | None:
        """Keep a live entry until the replay ends; too many of them close 4408."""
        if len(self.pending) >= PENDING_MAX:
            self.close(PENDING_OVERFLOW)
            return PENDING_OVERFLOW
        self.pending.append(entry)
        return None

    def hold(self) -> None:
        """Buffer live entries while a request reads a snapshot (LIVE → SYNCING).

        The reply goes first, then what `synced()` returns: an entry newer than
        the snapshot can never reach the client before the snapshot it follows.
        """
        self._move(Event.HELD)

    def synced(self) -> list[E]:
        """End the replay or hold (→ LIVE); returns the live entries buffered meanwhile."""
        self._move(Event.SYNCED)
        pending, self.pending = self.pending, []
        return pending

    # -- floors -------------------------------------------------------------------

    def fresh(self, order: tuple[int, int] | None, personal: bool) -> bool:
        """False for an offset at or below the floor (already delivered); else moves the floor.

        Entries without an offset (live-only) are always fresh.
        """
        if order is None:
            return True
        if personal:
            if order <= self.inbox_floor:
                return False
            self.inbox_floor = order
        else:
            if order <= self.events_floor:
                return False
            self.events_floor = order
        return True

    # -- frames -------------------------------------------------------------------

    def receive(self, frame: str | bytes, now: float) -> ClientMessage | Refused:
        """Decode, rate-limit and parse one frame of a live or syncing session."""
        wait = self.bucket.take(now)
        try:
            raw = decode(frame, self.codec)
        except ProtocolError as exc:
            return self._refuse(exc, exc.to_message(), counts=True)
        if wait > 0:
            ref = read_ref(raw) if isinstance(raw, dict) else None
            limited = ProtocolError(ErrorCode.RATE_LIMITED, "too many messages", retry_after_s=wait)
            return self._refuse(limited, limited.to_message(ref), counts=True)
        try:
            msg = parse_message(raw, self.role)
        except ProtocolError as exc:
            return self._refuse(exc, exc.to_message(), counts=False)
        if isinstance(msg, Hello):
            again = ProtocolError(ErrorCode.BAD_REQUEST, "hello was already received")
            return self._refuse(again, again.to_message(msg.ref), counts=False)
        self._refused = 0
        return msg

    def _refuse(self, error: ProtocolError, reply: dict[str, Any], *, counts: bool) -> Refused:
        self._refused = self._refused + 1 if counts else 0
        return Refused(error, reply, counts)

    def flood(self) -> Close | None:
        """The 4429 close once FLOOD_CLOSE_AFTER frames in a row were refused."""
        if self._refused >= FLOOD_CLOSE_AFTER:
            self.close(FLOOD)
            return FLOOD
        return None

    # -- closing ------------------------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The code of the close decided, if any."""
        return None if self.close_decided is None else self.close_decided.code

    def close(self, decision: Close) -> bool:
        """Decide to close (→ CLOSING); False when a close was decided already (first wins)."""
        if self.close_decided is not None or self.state is State.CLOSED:
            return False
        self._move(Event.CLOSE)
        self.close_decided = decision
        self.pending.clear()
        return True

    def lost(self) -> None:
        """The connection is gone (→ CLOSED), whatever the state."""
        if self.state is not State.CLOSED:
            self._move(Event.LOST)
        self.pending.clear()
