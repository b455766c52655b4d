"""Process counters, exported at /metrics in the Prometheus text format."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from hub.core.stats import DISPLAY_EDGES_S

__all__ = ["Metrics"]


@dataclass(slots=True)
class Metrics:
    """Plain counters; the hub is single-threaded per process, so no locks."""

    sessions: Counter[str] = field(default_factory=Counter)
    messages_in: int = 0
    messages_out: int = 0
    # Data frames taken by the hub's WebSocket layer, and the system calls that wrote
    # them (hub.server.cork): frames_written / socket_writes is how many one carried.
    frames_written: int = 0
    socket_writes: int = 0
    entries_read: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    duplicates_suppressed: int = 0
    alerts_acked: int = 0
    # Open311 GETs refused by the per-address limit (hub.server.open311): an operator
    # sees a scraper, or a limit set too low for the town's open-data page.
    open311_get_limited: int = 0
    # (loop, tenant, fault) and (source, tenant): see hub.server.supervision
    loop_errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    bad_records: Counter[tuple[str, str]] = field(default_factory=Counter)
    # (tenant, series) → counts per DISPLAY_EDGES_S bin (+Inf last), and sums (seconds)
    stage_bins: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    stage_sums: dict[tuple[str, str], float] = field(default_factory=dict)

    def observe_stage(self, tenant: str, series: str, seconds: float) -> None:
        """Count one stage time measured by a script this process ran."""
        bins = self.stage_bins.setdefault((tenant, series), [0] * (len(DISPLAY_EDGES_S) + 1))
        bins[bisect_left(DISPLAY_EDGES_S, seconds)] += 1
        self.stage_sums[(tenant, series)] = self.stage_sums.get((tenant, series), 0.0) + seconds

    def _stage_lines(self) -> list[str]:
        lines = ["# TYPE vigie_stage_seconds histogram"]
        for (tenant, series), bins in sorted(self.stage_bins.items()):
            labels = f'tenant="{tenant}",stage="{series}"'
            total = 0
            for edge, n in zip([*DISPLAY_EDGES_S, "+Inf"], bins, strict=True):
                total += n
                lines.append(f'vigie_stage_seconds_bucket{{{labels},le="{edge}"}} {total}')
            lines.append(f"vigie_stage_seconds_sum{{{labels}}} {self.stage_sums[(tenant, series)]}")
            lines.append(f"vigie_stage_seconds_count{{{labels}}} {total}")
        return lines

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
            "frames_written",
            "socket_writes",
            "entries_read",
            "duplicates_suppressed",
            "alerts_acked",
            "open311_get_limited",
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
        lines += self._stage_lines()
        for name, count in (counters or {}).items():
            lines += [f"# TYPE vigie_{name}_total counter", f"vigie_{name}_total {count}"]
        for name, value in (extra or {}).items():
            lines += [f"# TYPE vigie_{name.split('{')[0]} gauge", f"vigie_{name} {value}"]
        return "\n".join(lines) + "\n"
