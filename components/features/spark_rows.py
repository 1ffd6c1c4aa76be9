"""The ranker rows by Spark (``features.rows_engine: spark``, the default).

An exposure of day d sees the snapshot of d - 1 (``training_rows`` says why that is the
point-in-time join), so each training day is one left join per view on the entity key: the
executors do the work and nothing is collected, whatever the day's volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from components.core import partitions
from components.core.layout import partition, ranker_rows_file
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import Storage
from components.features.days import RunDays
from components.features.schema import STATS_VIEWS, StatsView
from components.features.training_rows import (
    EXPOSURE_COLUMNS,
    ROW_ORDER,
    TrainingRows,
    feature_column,
    publish_rows,
    rows_schema,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def publish_spark_rows(
    spark: SparkSession, storage: Storage, ds: date, days: RunDays, windows: Sequence[int]
) -> TrainingRows:
    """Publish the rows of every training day of ``days`` as ``ds``'s partition, from the
    snapshots this run published."""
    staging = storage.staging_key("ranker-rows")
    rows_by_day = {}
    for day in days.training:
        output = f"{staging}/spark-{day.isoformat()}"
        # One file per day, sorted as extract sorts the curated files: a rerun writes the
        # same bytes.
        (
            day_rows(spark, storage, days, day, windows)
            .repartition(1)
            .sortWithinPartitions(*ROW_ORDER)
            .write.mode("overwrite")
            .parquet(storage.uri(output))
        )
        rows_by_day[day] = settle_day_file(
            spark, storage, output, f"{staging}/{ranker_rows_file(day)}", windows
        )
    return publish_rows(storage, staging, ds, rows_by_day, windows)


def day_rows(
    spark: SparkSession, storage: Storage, days: RunDays, day: date, windows: Sequence[int]
) -> DataFrame:
    """The exposures of ``day`` with the features of the snapshots of the day before."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, from_arrow_type

    curated = [storage.uri(key) for key in days.files[day]]
    rows = (
        spark.read.schema(from_arrow_schema(CURATED_EXPOSURE))
        .parquet(*curated)
        .select(*(F.col(column).alias(name) for column, name in EXPOSURE_COLUMNS.items()))
    )
    seen = day - timedelta(days=1)
    for view in STATS_VIEWS:
        snapshot = snapshot_features(
            spark, storage, view, seen if seen in days.snapshots else None, windows
        )
        rows = rows.join(snapshot, on=view.join_key, how="left")
    return rows.select(
        *(
            F.col(field.name).cast(from_arrow_type(field.type)).alias(field.name)
            for field in rows_schema(windows)
        )
    )


def snapshot_features(
    spark: SparkSession,
    storage: Storage,
    view: StatsView,
    day: date | None,
    windows: Sequence[int],
) -> DataFrame:
    """The entity key and the features of ``view``'s published snapshot of ``day``, named as in
    the rows; no rows for no day."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(view.offline_schema(windows))
    if day is None:
        snapshot = spark.createDataFrame([], schema)
    else:
        source = partition(view.offline_source(windows), day)
        snapshot = spark.read.schema(schema).parquet(*partitions.published_files(storage, source))
    return snapshot.select(
        view.join_key,
        *(F.col(name).alias(feature_column(view, name)) for name in view.features(windows)),
    )


def settle_day_file(
    spark: SparkSession, storage: Storage, output: str, target: str, windows: Sequence[int]
) -> int:
    """Move the one part file of the Spark ``output`` to ``target`` (an empty file when Spark
    wrote none); the rows it holds."""
    parts = [key for key in storage.list_keys(output) if key.endswith(".parquet")]
    if parts:
        [part] = parts  # one partition, one task, one file
        rows = spark.read.parquet(storage.uri(part)).count()  # from the footer
        storage.move(part, target)
    else:
        rows = 0
        storage.write_parquet(target, rows_schema(windows).empty_table())
    storage.delete_prefix(output)
    return rows
