"""Process counters, exported at /metrics in the Prometheus text format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Metrics"]


@dataclass(slots=True)
class Metrics:
    """Plain counters; the hub is single-threaded per process, so no locks."""

    sessions: Counter[str] = field(default_factory=Counter)
    messages_in: int = 0
    messages_out: int = 0
    entries_read: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    duplicates_suppressed: int = 0
    alerts_acked: int = 0
    # (loop, tenant, fault) and (source, tenant): see hub.server.supervision
    loop_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    bad_records: Counter[tuple[str, str]] = field(default_factory=Counter)

    def render(
        self, extra: dict[str, float] | None = None, counters: dict[str, int] | None = None
    ) -> str:
        """The Prometheus text exposition of every counter; `extra` gauges and
        `counters` kept elsewhere (the replicated acks') are added as given."""
        lines = ["# TYPE vigie_sessions gauge"]
        for role in ("citizen", "unit", "console"):
            lines.append(f'vigie_sessions{{role="{role}"}} {self.sessions[role]}')
        for name in (
            "messages_in",
            "messages_out",
            "entries_read",
            "duplicates_suppressed",
            "alerts_acked",
        ):
            lines += [
                f"# TYPE vigie_{name}_total counter",
                f"vigie_{name}_total {getattr(self, name)}",
            ]
        lines.append("# TYPE vigie_errors_total counter")
        lines += [f'vigie_errors_total{{code="{c}"}} {n}' for c, n in sorted(self.errors.items())]
        lines.append("# TYPE vigie_closes_total counter")
        lines += [f'vigie_closes_total{{code="{c}"}} {n}' for c, n in sorted(self.closes.items())]
        lines.append("# TYPE vigie_loop_errors_total counter")
        lines += [
            f'vigie_loop_errors_total{{loop="{loop}",tenant="{t}",fault="{f}"}} {n}'
            for (loop, t, f), n in sorted(self.loop_errors.items())
        ]
        lines.append("# TYPE vigie_bad_records_total counter")
        lines += [
            f'vigie_bad_records_total{{source="{s}",tenant="{t}"}} {n}'
            for (s, t), n in sorted(self.bad_records.items())
        ]
        for name, count in (counters or {}).items():
            lines += [f"# TYPE vigie_{name}_total counter", f"vigie_{name}_total {count}"]
        for name, value in (extra or {}).items():
            lines += [f"# TYPE vigie_{name.split('{')[0]} gauge", f"vigie_{name} {value}"]
        return "\n".join(lines) + "\n"
