"""Vigie's asyncio client library: one resilient connection and the three roles.

Example:
    >>> async with Citizen(url, token) as citizen:  # doctest: +SKIP
    ...     ack = await citizen.submit_alert("noise", 43.1839, 3.0042, text="loud music")

The library imports nothing from `hub/` (a test checks): a town's app installs it
without the server. The demo (`vigie demo`, `hub/demo/`) is one of its users.
"""

from clients.citizen import Citizen
from clients.codec import DecodeError, Encoding, Message
from clients.connection import Connection, TokenProvider
from clients.console import Console
from clients.delivery import Delivery, Listener
from clients.errors import (
    ClientClosed,
    ClientError,
    ConnectionLost,
    HubError,
    ProtocolViolation,
    RequestTimeout,
    Unauthorized,
    raise_for_error,
)
from clients.mailbox import Mailbox, Overflow
from clients.model import (
    TERMINAL_STATUSES,
    AssignmentState,
    ConsoleModel,
    Incident,
    UnitState,
    object_id,
)
from clients.offsets import OffsetTracker, offset_key
from clients.recovery import Action, Backoff, action_for_close
from clients.requests import PendingRequests
from clients.unit import Unit

__all__ = [
    "TERMINAL_STATUSES",
    "Action",
    "AssignmentState",
    "Backoff",
    "Citizen",
    "ClientClosed",
    "ClientError",
    "Connection",
    "ConnectionLost",
    "Console",
    "ConsoleModel",
    "DecodeError",
    "Delivery",
    "Encoding",
    "HubError",
    "Incident",
    "Listener",
    "Mailbox",
    "Message",
    "OffsetTracker",
    "Overflow",
    "PendingRequests",
    "ProtocolViolation",
    "RequestTimeout",
    "TokenProvider",
    "Unauthorized",
    "Unit",
    "UnitState",
    "action_for_close",
    "object_id",
    "offset_key",
    "raise_for_error",
]
