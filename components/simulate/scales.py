"""The simulator's sizes, one row per named scale (no heavy imports: the CLI reads the names)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    items: int  # catalog size on the first day; new items arrive every day on top
    days: int
    requests_per_user_day: float  # mean slate requests per user and day
    chunk_events: int = 1_000_000  # events per part file: bounds memory on any horizon

    @property
    def requests_per_day(self) -> float:
        """Expected slate requests a day (each shows up to a slate of items)."""
        return self.users * self.requests_per_user_day


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        Scale("tiny", users=400, items=150, days=3, requests_per_user_day=3.0),
        Scale("small", users=3_000, items=1_000, days=7, requests_per_user_day=2.0),
        Scale("demo", users=20_000, items=5_000, days=14, requests_per_user_day=1.1),
        Scale("large", users=1_000_000, items=100_000, days=30, requests_per_user_day=0.34),
        # About 100M exposures a day: a shop with real traffic (make bench-scale).
        Scale("xlarge", users=10_000_000, items=200_000, days=2, requests_per_user_day=1.0),
    )
}
