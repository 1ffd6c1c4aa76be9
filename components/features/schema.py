"""The statistics of each feature view, named once for Spark, the Feast repo and the ranker rows.

A statistic over a window becomes one column per configured window, ``<statistic>_<days>d``
(``clicks_7d``); a statistic without a window keeps its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa

from components.core.layout import FEATURES_OFFLINE
from components.core.schemas import UTC_MICROS

EVENT_TIMESTAMP = "event_timestamp"  # Feast's name for the time a row becomes valid


@dataclass(frozen=True)
class StatsView:
    """One feature view of daily statistics of an entity."""

    name: str  # the Feast feature view, its offline folder and its SQL file feature_<name>
    entity: str
    join_key: str
    description: str
    windowed: Mapping[str, pa.DataType]
    unwindowed: Mapping[str, pa.DataType] = field(default_factory=dict)

    @property
    def sql_name(self) -> str:
        return f"feature_{self.name}"

    def offline_source(self, windows: Sequence[int]) -> str:
        """The folder of the snapshots with ``windows``, by dt: ``<view>/w=7-30/dt=<day>/``.

        Each window set has its own folder: Feast reads all of a source, and the columns
        differ from one window set to the next.
        """
        return f"{FEATURES_OFFLINE}/{self.name}/w={'-'.join(map(str, windows))}"

    def features(self, windows: Sequence[int]) -> dict[str, pa.DataType]:
        """Feature columns and types: window by window, then the statistics without one."""
        by_window = {
            windowed_name(statistic, days): dtype
            for days in windows
            for statistic, dtype in self.windowed.items()
        }
        return {**by_window, **self.unwindowed}

    def feature_refs(self, windows: Sequence[int]) -> list[str]:
        """Feast's ``view:feature`` references to every feature of the view."""
        return [f"{self.name}:{feature}" for feature in self.features(windows)]

    def offline_schema(self, windows: Sequence[int]) -> pa.Schema:
        """A snapshot file: the entity key, the time the row becomes valid, the features."""
        return pa.schema(
            [
                (self.join_key, pa.int64()),
                (EVENT_TIMESTAMP, UTC_MICROS),
                *self.features(windows).items(),
            ]
        )


def windowed_name(statistic: str, days: int) -> str:
    return f"{statistic}_{days}d"


def snapshot_time(day: date) -> datetime:
    """When the snapshot of ``day`` becomes valid: the end of that day (the SQL's rule too)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


USER_STATS = StatsView(
    name="user_stats",
    entity="user",
    join_key="user_id",
    description="A user's activity over trailing windows, snapshot at the end of each day",
    windowed={
        "exposures": pa.int64(),
        "clicks": pa.int64(),
        "purchases": pa.int64(),
        "click_rate": pa.float64(),  # null without exposures in the window
        "top_category": pa.string(),  # the most clicked category; null without clicks
        "top_category_share": pa.float64(),  # its share of the user's clicks
    },
)

ITEM_STATS = StatsView(
    name="item_stats",
    entity="item",
    join_key="item_id",
    description="An item's exposure and popularity over trailing windows, snapshot daily",
    windowed={
        "exposures": pa.int64(),
        "clicks": pa.int64(),
        "ctr": pa.float64(),  # null without exposures in the window
        "popularity_pct": pa.float64(),  # percent rank of the item's clicks in the catalog
    },
    unwindowed={"age_days": pa.int32()},
)

STATS_VIEWS = (USER_STATS, ITEM_STATS)
