"""The town of the demo's evening: its sectors (patrol beats), area and habits.

Read from the tenant's configuration, so the evening happens where the hub
accepts alerts; pure geometry, no I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

import h3

from hub.config import TenantConfig
from hub.core.geo import TenantArea

__all__ = ["Beat", "Town", "grid_steps", "toward"]

# An urban evening: mostly noise and incivility, violence and fire are rare.
CATEGORY_WEIGHTS: Final = {
    "noise": 30, "incivility": 22, "neighbour_dispute": 9, "vandalism": 8, "suspicious": 8,
    "road_hazard": 6, "theft": 5, "rodeo": 5, "other": 4, "burglary": 1.5, "violence": 1,
    "fire": 0.5,
}  # fmt: skip
M_PER_DEG: Final = 111_320.0


@dataclass(frozen=True, slots=True)
class Beat:
    """A patrol sector: its centre and its H3 cell (the unit's cover)."""

    name: str
    lat: float
    lon: float
    cell: str


class Town:
    """The tenant's geography and habits, for drawing plausible reports."""

    def __init__(self, tenant: TenantConfig, resolution: int, rng: random.Random) -> None:
        self.tenant = tenant
        self.area = TenantArea.from_polygon(tenant.area, resolution)
        self.rng = rng
        self.beats = [Beat(s.name, s.lat, s.lon, s.cell) for s in tenant.sectors.values()]
        if not self.beats:
            raise ValueError(f"tenant {tenant.id} has no [sectors] for the demo's patrols")
        self.categories = [c for c in CATEGORY_WEIGHTS if c in tenant.categories]
        self.weights = [CATEGORY_WEIGHTS[c] for c in self.categories]

    def near(self, lat: float, lon: float, spread_m: float) -> tuple[float, float]:
        """A random point about `spread_m` from (lat, lon), inside the town when possible."""
        for _ in range(20):
            d_lat = self.rng.gauss(0, spread_m) / M_PER_DEG
            d_lon = self.rng.gauss(0, spread_m) / (M_PER_DEG * math.cos(math.radians(lat)))
            if self.area.contains(lat + d_lat, lon + d_lon):
                return lat + d_lat, lon + d_lon
        return lat, lon

    def category(self) -> str:
        """A category drawn with realistic weights."""
        return self.rng.choices(self.categories, self.weights)[0]


def toward(
    here: tuple[float, float], there: tuple[float, float], step_m: float
) -> tuple[float, float]:
    """One step of `step_m` metres from here toward there (or there, if closer)."""
    d_lat = (there[0] - here[0]) * M_PER_DEG
    d_lon = (there[1] - here[1]) * M_PER_DEG * math.cos(math.radians(here[0]))
    dist = math.hypot(d_lat, d_lon)
    if dist <= step_m:
        return there
    f = step_m / dist
    return here[0] + (there[0] - here[0]) * f, here[1] + (there[1] - here[1]) * f


def grid_steps(a: str, b: str | None) -> int:
    """Grid steps between two cells of the hub resolution (far when undefined)."""
    try:
        return int(h3.grid_distance(a, b)) if b else 10**6
    except (h3.H3BaseException, ValueError):
        return 10**6
