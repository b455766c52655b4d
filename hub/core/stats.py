"""The town's statistics: what the aggregates hold, and how a query reads them.

Rule: the aggregates are counters in one Redis hash per local day (the day an
incident was received), written by the lifecycle scripts in the same atomic step
as the change they count (hub/store/lua/lib.lua, `stats_*`). Their field names
are the grammar below, and this module is the only reader of that grammar:

    n|category|priority|area|how                    incidents received
    r|category|area|how                             reports (every alert, corroborations too)
    d|series|category|priority|area|how|bucket      one stage time, in a sketch bucket
    o|outcome|category|priority|area|how            how an incident ended
    f|category|priority|area|how|score              a reporter's rating (1-5)

`area` is the incident's H3 cell at the tenant's public resolution (coarse),
`how` the local hour of the week it was received (Monday 00h = 0 .. 167). No
field names a person: erasing a resident leaves every aggregate as it is.

Stage times are kept as a log-bucketed sketch (DDSketch, Masson et al., VLDB
2019): a duration of `s` seconds goes to bucket ``ceil(log(s) / log(GAMMA))``
(0 for a second or less). Buckets add up across days and dimensions, and any
quantile read back is within ``ALPHA`` (1 %) of the exact one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

__all__ = [
    "ALPHA",
    "DISPLAY_EDGES_S",
    "GAMMA",
    "SERIES",
    "Stamp",
    "Totals",
    "bucket_of",
    "bucket_value",
    "days_between",
    "fold",
    "quantile",
    "stamp_of",
    "summary",
]

GAMMA: Final = 1.02
ALPHA: Final = (GAMMA - 1) / (GAMMA + 1)  # relative accuracy of every quantile

# The series of stage times. An interval series ends at its stage and starts at the
# previous stage the incident reached (an incident dispatched without being
# acknowledged first has no `acknowledged` time, and its `dispatched` time starts at
# reception). `response`: received → a unit on scene (or, with no unit on scene, the
# end); `total`: received → resolved or closed.
SERIES: Final = ("acknowledged", "dispatched", "on_scene", "resolved", "response", "total")
QUANTILES: Final = (0.5, 0.9, 0.99)
# The bins of the charts and of the Prometheus histograms (seconds, upper bounds).
DISPLAY_EDGES_S: Final = (
    30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 28800, 86400,
)  # fmt: skip
WEEK_HOURS: Final = 168


def bucket_of(ms: int) -> int:
    """The sketch bucket of a duration (the Lua scripts compute the same)."""
    seconds = ms / 1000
    if seconds <= 1:
        return 0
    return math.ceil(math.log(seconds) / math.log(GAMMA))


def bucket_value(bucket: int) -> float:
    """The seconds a bucket stands for: within ALPHA of every duration in it."""
    if bucket <= 0:
        return 1.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


def quantile(buckets: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (seconds) of a sketch: the value of rank floor(q * (n - 1)), or None."""
    n = sum(buckets.values())
    if n == 0:
        return None
    rank = math.floor(q * (n - 1))
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen > rank:
            return bucket_value(bucket)
    return bucket_value(max(buckets))  # pragma: no cover - seen reaches n above


@dataclass(frozen=True, slots=True)
class Stamp:
    """Where an incident falls in the aggregates: its local day, hour of week, area."""

    day: str  # YYYY-MM-DD in the tenant's time zone
    how: int
    area: str


def stamp_of(at_ms: int, timezone: str, area: str) -> Stamp:
    """The stamp of an incident received at `at_ms` in a town of `timezone`."""
    local = datetime.fromtimestamp(at_ms / 1000, ZoneInfo(timezone))
    return Stamp(local.date().isoformat(), local.weekday() * 24 + local.hour, area)


def days_between(first: date, last: date) -> list[str]:
    """Every day from `first` to `last` inclusive, as the day keys spell them."""
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _week_of(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


Sketch = Counter[int]


@dataclass(slots=True)
class Totals:
    """Everything a query adds up, in one pass over the fields of its days."""

    incidents: Counter[str] = field(default_factory=Counter)  # by day
    reports: Counter[str] = field(default_factory=Counter)  # by day
    by_category: Counter[str] = field(default_factory=Counter)
    by_sector: Counter[str] = field(default_factory=Counter)
    by_how: Counter[int] = field(default_factory=Counter)
    by_area: Counter[str] = field(default_factory=Counter)
    by_area_category: Counter[tuple[str, str]] = field(default_factory=Counter)
    weeks: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    stages: dict[str, Sketch] = field(default_factory=lambda: defaultdict(Counter))
    stages_by: dict[tuple[str, str, str], Sketch] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # (dimension, value, series) with dimension in category, sector, day
    response_by_how: dict[int, Sketch] = field(default_factory=lambda: defaultdict(Counter))
    response_by_priority: dict[int, Sketch] = field(default_factory=lambda: defaultdict(Counter))
    outcomes: Counter[str] = field(default_factory=Counter)
    feedback: Counter[int] = field(default_factory=Counter)
    feedback_by_category: dict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    by_day_category: Counter[tuple[str, str]] = field(default_factory=Counter)
    reports_by_day_category: Counter[tuple[str, str]] = field(default_factory=Counter)


Keep = Callable[[str, str], bool]  # (category, area) → counted by this query


def fold(
    days: Iterable[tuple[str, Mapping[str, int]]],
    sector_of: Callable[[str], str],
    keep: Keep = lambda category, area: True,
) -> Totals:
    """Add up the fields of `days` ((day, {field: count})) that `keep` keeps.

    A field that does not follow the grammar (written by hand, by a later version)
    is passed over: a query never fails on it.
    """
    totals = Totals()
    for day, fields in days:
        week = _week_of(day)
        for name, count in fields.items():
            parts = name.split("|")
            try:
                _add(totals, day, week, parts, int(count), sector_of, keep)
            except (ValueError, IndexError):
                continue
    return totals


def _add(
    t: Totals,
    day: str,
    week: str,
    p: list[str],
    n: int,
    sector_of: Callable[[str], str],
    keep: Keep,
) -> None:
    kind = p[0]
    if kind == "n" and len(p) == 5 and keep(p[1], p[3]):
        category, area, how = p[1], p[3], int(p[4])
        t.incidents[day] += n
        t.by_category[category] += n
        t.by_sector[sector_of(area)] += n
        t.by_how[how] += n
        t.by_area[area] += n
        t.by_area_category[(area, category)] += n
        t.weeks[(area, category)].add(week)
        t.by_day_category[(day, category)] += n
    elif kind == "r" and len(p) == 4 and keep(p[1], p[2]):
        t.reports[day] += n
        t.reports_by_day_category[(day, p[1])] += n
    elif kind == "d" and len(p) == 7 and keep(p[2], p[4]):
        series, category, area, b = p[1], p[2], p[4], int(p[6])
        t.stages[series][b] += n
        t.stages_by[("category", category, series)][b] += n
        t.stages_by[("sector", sector_of(area), series)][b] += n
        t.stages_by[("day", f"{day}|{category}", series)][b] += n
        if series == "response":
            t.response_by_how[int(p[5])][b] += n
            t.response_by_priority[int(p[3])][b] += n
    elif kind == "o" and len(p) == 6 and keep(p[2], p[4]):
        t.outcomes[p[1]] += n
    elif kind == "f" and len(p) == 6 and keep(p[1], p[3]):
        score = int(p[5])
        t.feedback[score] += n
        t.feedback_by_category[p[1]][score] += n


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def distribution(sketch: Mapping[int, int]) -> dict[str, Any]:
    """Count, p50 / p90 / p99 (seconds) and the chart's histogram of one series."""
    bins = [0] * (len(DISPLAY_EDGES_S) + 1)
    for bucket, n in sketch.items():
        value = bucket_value(bucket)
        bins[next((i for i, e in enumerate(DISPLAY_EDGES_S) if value <= e), -1)] += n
    edges: list[int | None] = [*DISPLAY_EDGES_S, None]
    return {
        "count": sum(sketch.values()),
        **{f"p{round(q * 100)}_s": _round(quantile(sketch, q)) for q in QUANTILES},
        "histogram": [{"le_s": e, "count": c} for e, c in zip(edges, bins, strict=True)],
    }


def within(sketch: Mapping[int, int], target_s: float) -> int:
    """How many durations of a sketch are at most `target_s` (to within ALPHA)."""
    return sum(n for b, n in sketch.items() if bucket_value(b) <= target_s)


def _quantiles(sketch: Mapping[int, int]) -> dict[str, Any]:
    return {
        "count": sum(sketch.values()),
        **{f"p{round(q * 100)}_s": _round(quantile(sketch, q)) for q in QUANTILES},
    }


def _by(t: Totals, dimension: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for (dim, value, series), sketch in sorted(t.stages_by.items()):
        if dim == dimension:
            out[value][series] = _quantiles(sketch)
    return dict(out)


def summary(
    t: Totals,
    targets_s: Mapping[int, int],
    recurring_weeks: int,
    hotspots_max: int = 50,
) -> dict[str, Any]:
    """The JSON body of a stats query (without its period and filters)."""
    scores = sum(s * n for s, n in t.feedback.items())
    rated = sum(t.feedback.values())
    return {
        "volumes": {
            "incidents": sum(t.incidents.values()),
            "reports": sum(t.reports.values()),
            "by_day": [
                {"day": d, "incidents": t.incidents[d], "reports": t.reports[d]}
                for d in sorted(set(t.incidents) | set(t.reports))
            ],
            "by_category": dict(t.by_category.most_common()),
            "by_sector": dict(t.by_sector.most_common()),
            "by_hour_of_week": [t.by_how[h] for h in range(WEEK_HOURS)],
        },
        "stages": {s: distribution(t.stages[s]) for s in SERIES},
        "stages_by_category": _by(t, "category"),
        "stages_by_sector": _by(t, "sector"),
        "response_p50_by_hour_of_week": [
            _round(quantile(t.response_by_how.get(h, {}), 0.5)) for h in range(WEEK_HOURS)
        ],
        "targets": _targets(t, targets_s),
        "outcomes": dict(t.outcomes.most_common()),
        "feedback": {
            "count": rated,
            "mean": round(scores / rated, 2) if rated else None,
            "by_score": {str(s): t.feedback[s] for s in range(1, 6)},
            "by_category": {
                c: {str(s): n for s, n in sorted(v.items())}
                for c, v in sorted(t.feedback_by_category.items())
            },
        },
        "hotspots": [
            {"cell": cell, "incidents": n} for cell, n in t.by_area.most_common(hotspots_max)
        ],
        "recurring": recurring(t, recurring_weeks),
    }


def _targets(t: Totals, targets_s: Mapping[int, int]) -> dict[str, dict[str, Any]]:
    out = {}
    for priority, target in sorted(targets_s.items()):
        sketch = t.response_by_priority.get(priority, Counter())
        handled = sum(sketch.values())
        ok = within(sketch, target)
        out[str(priority)] = {
            "target_s": target,
            "handled": handled,
            "within": ok,
            "share": round(ok / handled, 4) if handled else None,
        }
    return out


def recurring(t: Totals, min_weeks: int) -> list[dict[str, Any]]:
    """Cells where one category came back in at least `min_weeks` distinct weeks."""
    rows = [
        {
            "cell": area,
            "category": category,
            "weeks": len(weeks),
            "incidents": t.by_area_category[(area, category)],
        }
        for (area, category), weeks in t.weeks.items()
        if len(weeks) >= min_weeks
    ]
    return sorted(rows, key=lambda r: (-r["weeks"], -r["incidents"], r["cell"], r["category"]))
