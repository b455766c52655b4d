"""The conversation between the control room and the reporters, and their feedback.

Rules (docs/protocol.md, "Conversation"):

1. The control room writes to the reporters of a live incident, or to one alert's
   reporter; every reporter gets the message in their durable inbox. The sender
   is `control_room`, never an operator's name.
2. A reporter answers about one of their own alerts, while its incident is live.
   The answer reaches the consoles (the tenant stream) and the reporter's own
   inbox (their other devices), never another resident.
3. Texts are bounded (MESSAGE_MAX) and each side is rate-limited across processes
   (a sliding window in the script), and every message goes into the incident's
   trail: the conversation is part of its history.
4. Feedback: once per alert, a score 1..5 and an optional comment, after the
   alert ended resolved or rejected; the consoles see it and the statistics count
   the score (never the comment: it is a person's text).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CONSOLE_MESSAGE_RATE",
    "FEEDBACK_AFTER",
    "FROM_CONTROL_ROOM",
    "FROM_REPORTER",
    "REPORTER_MESSAGE_RATE",
]

FROM_CONTROL_ROOM: Final = "control_room"
FROM_REPORTER: Final = "reporter"
# (count, window seconds), per sender
REPORTER_MESSAGE_RATE: Final = (10, 600)
CONSOLE_MESSAGE_RATE: Final = (60, 60)
FEEDBACK_AFTER: Final = ("resolved", "rejected")  # alert statuses that may be rated
