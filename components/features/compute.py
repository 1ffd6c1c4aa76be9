"""Daily feature snapshots with Spark: validated curated exposures -> Feast offline sources.

Each feature view's SQL (``sql/feature_<view>.sql``) returns one row per snapshot day, window
and entity; here the windows become columns and each day is published atomically under
``features/offline/<view>/w=<windows>/dt=<day>/`` (``StatsView.offline_source``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from components.core import partitions
from components.core.daily_output import publish_days
from components.core.layout import RAW_CATALOG, partition
from components.core.schemas import CATALOG, CURATED_EXPOSURE
from components.core.sql import load_sql
from components.core.storage import Storage
from components.features.days import RunDays
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS, StatsView, windowed_name

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def publish_snapshots(
    spark: SparkSession, storage: Storage, days: RunDays, windows: Sequence[int]
) -> dict[str, dict[date, int]]:
    """Publish every view's snapshots of ``days.snapshots``; rows per view and day.

    The windows aggregate the validated curated files of ``days.history``; the catalog
    snapshot of its last day lists the items (and their creation times) the item view covers.
    """
    register_inputs(spark, storage, days)
    covered_days = spark.sql(
        load_sql("feature_windows"),
        args={"snapshot_days": days.snapshots, "windows_days": list(windows)},
    )
    covered_days.createOrReplaceTempView("covered_days")
    rows = {}
    for view in STATS_VIEWS:
        long = spark.sql(load_sql(view.sql_name))
        staging = storage.staging_key(f"features-{view.name}")
        # One file per day, one row per entity: a snapshot is small, and Feast reads the whole
        # source folder.
        (
            widen(long, view, windows)
            .repartition("dt")
            .sortWithinPartitions("dt", view.join_key)  # dt first, or the writer re-sorts
            .write.mode("overwrite")
            .partitionBy("dt")
            .parquet(storage.uri(staging))
        )
        rows[view.name] = publish_days(
            spark,
            storage,
            staging,
            view.offline_source(windows),
            days.snapshots,
            view.offline_schema(windows),
            {"producer": "features", "windows_days": list(windows)},
        )
    return rows


def register_inputs(spark: SparkSession, storage: Storage, days: RunDays) -> None:
    """The SQL's views: ``exposures`` of the history days and the latest ``catalog``.

    Both read the files their manifests list, never a whole folder (``validated_files`` in
    ``features/days.py`` says why).
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    curated = [storage.uri(key) for day in days.history for key in days.files[day]]
    exposures = spark.read.schema(from_arrow_schema(CURATED_EXPOSURE)).parquet(*curated)
    exposures.createOrReplaceTempView("exposures")
    # Only a committed catalog snapshot counts: published_files raises for any other.
    catalog_files = partitions.published_files(storage, partition(RAW_CATALOG, days.history[-1]))
    catalog = spark.read.schema(from_arrow_schema(CATALOG)).parquet(*catalog_files)
    catalog.createOrReplaceTempView("catalog")


def widen(long: DataFrame, view: StatsView, windows: Sequence[int]) -> DataFrame:
    """One row per entity and day, one column per statistic and window, typed as the view."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_type

    keys = [view.join_key, EVENT_TIMESTAMP, "dt", *view.unwindowed]
    # Each entity, day and window has one row: first() just moves its value into the column.
    wide = (
        long.groupBy(*keys)
        .pivot("window_days", list(windows))
        .agg(*(F.first(statistic).alias(statistic) for statistic in view.windowed))
    )
    named = wide.select(
        *keys,
        *(
            F.col(f"`{days}_{statistic}`").alias(windowed_name(statistic, days))
            for days in windows
            for statistic in view.windowed
        ),
    )
    return named.select(
        view.join_key,
        EVENT_TIMESTAMP,
        *(
            F.col(name).cast(from_arrow_type(dtype)).alias(name)
            for name, dtype in view.features(windows).items()
        ),
        "dt",
    )
