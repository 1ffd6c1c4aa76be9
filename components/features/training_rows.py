"""Ranker training rows: exposures with the features Feast serves as of each exposure's time.

Each exposure of the training days becomes one row (label ``clicked``; ``position`` and
``logging_score`` for debiasing) joined with every feature view by ``get_historical_features``,
the point-in-time join: a row only sees snapshots that were valid when it was shown. Rows are
published under ``features/ranker_rows/dt=<ds>/``, one file per exposure day, joined and written
a bounded chunk of exposures at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from components.core import partitions
from components.core.layout import RANKER_ROWS, partition, ranker_rows_file
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import Storage
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

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


@dataclass(frozen=True)
class TrainingRows:
    ds: date
    rows_by_day: dict[date, int]
    features: list[str]  # column names of the features, as Feast names them (view__feature)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


def publish_training_rows(
    store: FeatureStore,
    storage: Storage,
    ds: date,
    exposure_files: Mapping[date, Sequence[str]],
    windows: Sequence[int],
    join_rows: int,
) -> TrainingRows:
    """Publish the rows of each day's validated curated ``exposure_files`` as ``ds``'s partition,
    joining ``join_rows`` exposures at a time (each part of a day's file is one such join)."""
    schema = rows_schema(windows)
    staging = storage.staging_key("ranker-rows")
    rows_by_day = {}
    for day, files in exposure_files.items():
        parts = (
            pa.Table.from_pandas(with_features(store, chunk, windows), schema, preserve_index=False)
            for chunk in exposures(storage, files, join_rows)
        )
        key = f"{staging}/{ranker_rows_file(day)}"
        rows_by_day[day] = storage.write_parquet_parts(key, schema, parts)
    features = schema.names[len(EXPOSURE_COLUMNS) :]
    partitions.publish(
        storage,
        staging,
        partition(RANKER_ROWS, ds),
        {
            "rows": sum(rows_by_day.values()),
            "producer": "features",
            "ds": ds.isoformat(),
            "exposure_days": [day.isoformat() for day in exposure_files],
            "label": LABEL,
            "features": features,
            "feature_refs": [ref for view in STATS_VIEWS for ref in view.feature_refs(windows)],
        },
    )
    return TrainingRows(ds=ds, rows_by_day=rows_by_day, features=features)


def exposures(storage: Storage, files: Sequence[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The exposures in a curated day's ``files``, in order, as Feast's entity frames of
    ``chunk_rows`` rows (the last one shorter)."""
    columns = list(EXPOSURE_COLUMNS)
    held: pa.Table | None = None
    for key in files:
        for batch in storage.iter_parquet(key, columns=columns, batch_rows=chunk_rows):
            arrived = pa.Table.from_batches([batch])
            held = arrived if held is None else pa.concat_tables([held, arrived])
            while held.num_rows >= chunk_rows:
                yield _entity_frame(held.slice(0, chunk_rows))
                held = held.slice(chunk_rows)
    if held is not None and held.num_rows:
        yield _entity_frame(held)


def _entity_frame(exposures: pa.Table) -> pd.DataFrame:
    return exposures.rename_columns(list(EXPOSURE_COLUMNS.values())).to_pandas()


def with_features(
    store: FeatureStore, entity_df: pd.DataFrame, windows: Sequence[int]
) -> pd.DataFrame:
    """``entity_df`` with every view's features as of each row's ``event_timestamp``."""
    rows = entity_df
    for view in STATS_VIEWS:
        # Feast's file offline store keeps one entity row per join key and timestamp
        # (feast-dev/feast#6787), and the exposures of a slate share user and time: so each
        # view is joined on its distinct keys, then merged back onto every exposure.
        keys = [view.join_key, EVENT_TIMESTAMP]
        features = store.get_historical_features(
            entity_df=entity_df[keys].drop_duplicates(),
            features=view.feature_refs(windows),
            full_feature_names=True,
        ).to_df()
        rows = rows.merge(features, on=keys, how="left", validate="many_to_one")
    return rows


def rows_schema(windows: Sequence[int]) -> pa.Schema:
    """The exposure columns, then each view's features."""
    exposure_fields = [
        CURATED_EXPOSURE.field(curated).with_name(name)
        for curated, name in EXPOSURE_COLUMNS.items()
    ]
    feature_fields = [
        pa.field(f"{view.name}__{name}", dtype)
        for view in STATS_VIEWS
        for name, dtype in view.features(windows).items()
    ]
    return pa.schema([*exposure_fields, *feature_fields])
