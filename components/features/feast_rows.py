"""The ranker rows by Feast's point-in-time join (``features.rows_engine: feast``).

``get_historical_features`` on the dask offline store, ``features.join_rows`` exposures at a
time, each chunk written as row groups of the day's file. It needs no Spark, so it also runs
where Spark cannot reach the data root; each chunk reads the views' whole sources, so its time
grows with the day times the history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from components.core.layout import ranker_rows_file
from components.core.storage import Storage
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS
from components.features.training_rows import (
    EXPOSURE_COLUMNS,
    TrainingRows,
    publish_rows,
    rows_schema,
)

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore


def publish_feast_rows(
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
    return publish_rows(storage, staging, ds, rows_by_day, windows)


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
