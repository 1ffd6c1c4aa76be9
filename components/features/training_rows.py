"""Ranker training rows: exposures with the features that were valid when each was shown.

Each exposure of the training days becomes one row (label ``clicked``; ``position`` and
``logging_score`` for debiasing) with every feature view's columns. A snapshot of day d is
valid for exactly the day after it (``SNAPSHOT_TTL``), so an exposure of day d sees the
snapshot of d - 1 or, for an entity it leaves out, no features: Feast's point-in-time join
reduces to an equi-join on the entity. Two engines publish the same rows
(``features.rows_engine``): Spark (``spark_rows``), which scales with the day, and Feast's own
``get_historical_features`` (``feast_rows``), a bounded chunk of exposures at a time, which
needs no Spark. Rows are published under ``features/ranker_rows/dt=<ds>/``, one file per
exposure day, each day's rows in the curated order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from components.core import partitions
from components.core.layout import RANKER_ROWS, partition
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import Storage
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS, StatsView

LABEL = "clicked"
# Curated column -> training row column: the time of the exposure is the time Feast joins at.
EXPOSURE_COLUMNS = {
    "event_id": "event_id",
    "request_id": "request_id",
    "user_id": "user_id",
    "item_id": "item_id",
    "ts": EVENT_TIMESTAMP,
    "position": "position",
    "logging_score": "logging_score",
    LABEL: LABEL,
}
# The order of a day's rows: the curated files' own (extract sorts them so).
ROW_ORDER = ("user_id", EVENT_TIMESTAMP, "event_id")


@dataclass(frozen=True)
class TrainingRows:
    ds: date
    rows_by_day: dict[date, int]
    features: list[str]  # column names of the features, as Feast names them (view__feature)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


def feature_column(view: StatsView, feature: str) -> str:
    """A feature's column in the rows: Feast's full feature name, ``<view>__<feature>``."""
    return f"{view.name}__{feature}"


def rows_schema(windows: Sequence[int]) -> pa.Schema:
    """The exposure columns, then each view's features."""
    exposure_fields = [
        CURATED_EXPOSURE.field(curated).with_name(name)
        for curated, name in EXPOSURE_COLUMNS.items()
    ]
    feature_fields = [
        pa.field(feature_column(view, name), dtype)
        for view in STATS_VIEWS
        for name, dtype in view.features(windows).items()
    ]
    return pa.schema([*exposure_fields, *feature_fields])


def publish_rows(
    storage: Storage,
    staging: str,
    ds: date,
    rows_by_day: Mapping[date, int],
    windows: Sequence[int],
) -> TrainingRows:
    """Commit the day files under ``staging`` as the ranker rows of ``ds``."""
    features = rows_schema(windows).names[len(EXPOSURE_COLUMNS) :]
    partitions.publish(
        storage,
        staging,
        partition(RANKER_ROWS, ds),
        {
            "rows": sum(rows_by_day.values()),
            "producer": "features",
            "ds": ds.isoformat(),
            "exposure_days": [day.isoformat() for day in rows_by_day],
            "label": LABEL,
            "features": features,
            "feature_refs": [ref for view in STATS_VIEWS for ref in view.feature_refs(windows)],
        },
    )
    return TrainingRows(ds=ds, rows_by_day=dict(rows_by_day), features=features)
