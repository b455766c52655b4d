"""Every Redis key name of the hub, in one place.

Every key of a tenant carries the hash tag ``{tenant}`` so that one tenant's
keys live on one Redis Cluster slot and multi-key Lua scripts work there.

Rule (Redis Cluster's, and what keeps the layout written once): a script is
handed in ``KEYS`` every key it touches that is known before it runs — the
tenant's fixed keys (events, seq, queues, indexes) and the keys of the ids its
caller names — built here. A key that depends on data the script reads (an
incident's alerts, the incident grouping found, a recipient's inbox) cannot be
declared beforehand: the script builds it with the generated ``K.<name>(...)``
functions (hub/store/lua_tables.py), made from ``SCHEME`` below, the same table
these methods use; it carries the same hash tag, so it lands on the same slot.
"""

from __future__ import annotations

from typing import Final

__all__ = ["LIFECYCLE_KEYS", "SCHEME", "TenantKeys", "glob_escape"]

# Keys built from an id, under the tenant's prefix: name → template ("{}": an id).
# Lua builds these names with the functions generated from this table, never by hand.
SCHEME: Final = {
    "incident": "inc:{}",
    "history": "inc:{}:history",
    "incident_alerts": "inc:{}:alerts",
    "incident_reporters": "inc:{}:reporters",
    "alert": "alert:{}",
    "unit": "unit:{}",
    "assignment": "asg:{}",
    "cell": "cell:{}",
    "notice": "notice:{}",
    "inbox": "inbox:{}:{}",
    "stats_day": "stats:{}",
    "recurrence": "recur:{}:{}",
}

# The tenant's fixed keys every lifecycle script is given, first in its KEYS, in
# this order (lib.lua names them from the generated copy of this tuple).
LIFECYCLE_KEYS: Final = (
    "events", "seq", "open_queue", "live", "published", "deadlines", "units", "notices",
)  # fmt: skip


def glob_escape(text: str) -> str:
    """`text` as a literal inside a SCAN MATCH pattern (Redis glob: * ? [ ] \\)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class TenantKeys:
    """Key names for one tenant."""

    __slots__ = ("prefix", "tenant")

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.prefix = f"vg:{{{tenant}}}:"

    def _scheme(self, name: str, *ids: str) -> str:
        return self.prefix + SCHEME[name].format(*ids)

    def lifecycle(self) -> list[str]:
        """The fixed keys every lifecycle script takes first (LIFECYCLE_KEYS, in order)."""
        return [getattr(self, name) for name in LIFECYCLE_KEYS]

    @property
    def seq(self) -> str:
        """Hash of id counters (alert, incident, assignment, notice)."""
        return self.prefix + "seq"

    @property
    def events(self) -> str:
        """The tenant's event stream: the ordered, durable record consoles/units resume from."""
        return self.prefix + "events"

    @property
    def canary(self) -> str:
        """Stream each process writes to and reads back, to prove its reader is alive."""
        return self.prefix + "canary"

    @property
    def ack_fence(self) -> str:
        """String each replicated ack writes before its WAIT (hub.store.replication)."""
        return self.prefix + "ackfence"

    @property
    def open_queue(self) -> str:
        """Sorted set: open incident id → queue score."""
        return self.prefix + "open"

    @property
    def live(self) -> str:
        """Sorted set: every live (non-terminal) incident id → score; what snapshots list."""
        return self.prefix + "live"

    @property
    def units(self) -> str:
        """Set of known unit ids."""
        return self.prefix + "units"

    @property
    def deadlines(self) -> str:
        """Sorted set: offered assignment id → deadline (ms)."""
        return self.prefix + "deadlines"

    def assignment(self, assignment_id: str) -> str:
        """Hash of one assignment."""
        return self._scheme("assignment", assignment_id)

    def history(self, incident_id: str) -> str:
        """List of an incident's audit entries (JSON)."""
        return self._scheme("history", incident_id)

    def incident_alerts(self, incident_id: str) -> str:
        """List of the alert ids an incident holds (a merge source keeps listing them)."""
        return self._scheme("incident_alerts", incident_id)

    def incident_reporters(self, incident_id: str) -> str:
        """Set of the citizen ids that reported an incident."""
        return self._scheme("incident_reporters", incident_id)

    def job_lock(self, job: str) -> str:
        """Expiring lock of a periodic job (one process runs it per period)."""
        return f"{self.prefix}lock:{job}"

    def idempotency(self, citizen: str, ref: str) -> str:
        """String: the alert id an (citizen, ref) produced."""
        # The length prefix keeps ("x:y", "z") and ("x", "y:z") apart.
        return f"{self.prefix}idem:{len(citizen)}:{citizen}:{ref}"

    def command_reply(self, command: str, actor: str, ref: str) -> str:
        """String: the reply a lifecycle command with this `ref` got (idempotent retries)."""
        return f"{self.prefix}reply:{command}:{len(actor)}:{actor}:{ref}"

    def channel_rate(self, channel: str) -> str:
        """Sorted set of a channel's recent alert times (an Open311 partner's whole flow)."""
        return f"{self.prefix}chrate:{channel}"

    @property
    def open311_requests(self) -> str:
        """Sorted set: alert id of each request received over Open311 → its time (ms)."""
        return self.prefix + "open311"

    def alert_rate(self, citizen: str) -> str:
        """Sorted set of a citizen's recent alert times (sliding-window rate limit)."""
        return f"{self.prefix}rate:{citizen}"

    def cell(self, cell: str) -> str:
        """Sorted set of a cell's open incidents, ``category|id`` → last report time."""
        return self._scheme("cell", cell)

    def incident(self, incident_id: str) -> str:
        """Hash of one incident."""
        return self._scheme("incident", incident_id)

    def alert(self, alert_id: str) -> str:
        """Hash of one alert."""
        return self._scheme("alert", alert_id)

    def unit(self, unit_id: str) -> str:
        """Hash of one unit's state (status, position, sector, presence)."""
        return self._scheme("unit", unit_id)

    def unit_throttle(self, unit_id: str) -> str:
        """Expiring marker: a position event was emitted for this unit in the last second."""
        return f"{self.prefix}unitpos:{unit_id}"

    @property
    def notices(self) -> str:
        """Sorted set: notice id → expires_at (ms); the current notices."""
        return self.prefix + "notices"

    def notice(self, notice_id: str) -> str:
        """Hash of one notice (cells, text, severity, at, expires_at); expires with it."""
        return self._scheme("notice", notice_id)

    @property
    def published(self) -> str:
        """Sorted set: live incidents published to the neighbours → opened_at (ms)."""
        return self.prefix + "published"

    def neighbour_cells(self, citizen: str) -> str:
        """String (JSON list): the cells a resident opted in to the neighbours' feed for."""
        return f"{self.prefix}nb:{len(citizen)}:{citizen}"

    def message_rate(self, role: str, sub: str) -> str:
        """Sorted set of a sender's recent conversation messages (sliding-window limit)."""
        return f"{self.prefix}msgrate:{role}:{len(sub)}:{sub}"

    def stats_day(self, day: str) -> str:
        """Hash of one local day's statistics counters (grammar: hub/core/stats.py)."""
        return self._scheme("stats_day", day)

    def recurrence(self, area: str, category: str) -> str:
        """Sorted set: a category's incident ids in a coarse area → received at (ms)."""
        return self._scheme("recurrence", area, category)

    def inbox(self, role: str, sub: str) -> str:
        """A recipient's personal durable stream (alert statuses, assignments)."""
        return self._scheme("inbox", role, sub)

    @property
    def erasures(self) -> str:
        """Stream: the log of right-to-erasure requests carried out (who, when, how much)."""
        return self.prefix + "erasures"

    # -- SCAN MATCH patterns (retention and erasure walk the tenant's records) ----------

    def match(self, suffix: str) -> str:
        """A SCAN pattern of this tenant's keys: the literal prefix, then `suffix` (a glob)."""
        return glob_escape(self.prefix) + suffix

    def match_scheme(self, name: str) -> str:
        """Every key of SCHEME entry `name`, whatever its ids."""
        return self.match("*".join(glob_escape(part) for part in SCHEME[name].split("{}")))

    def match_inboxes(self, role: str) -> str:
        """Every inbox of `role`'s recipients."""
        return self.match(glob_escape(SCHEME["inbox"].format(role, "")) + "*")

    def id_in(self, name: str, key: str) -> str:
        """The id in `key`, a key of the one-id SCHEME entry `name`."""
        head, tail = SCHEME[name].split("{}")
        return key[len(self.prefix) + len(head) : len(key) - len(tail)]

    def match_idempotency(self, citizen: str) -> str:
        """Every idempotency record of one citizen."""
        return self.match(f"idem:{len(citizen)}:{glob_escape(citizen)}:*")

    def match_replies(self, actor: str) -> str:
        """Every kept command reply of one actor (a citizen's withdrawals)."""
        return self.match(f"reply:*:{len(actor)}:{glob_escape(actor)}:*")
