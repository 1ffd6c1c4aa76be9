"""The Spark extraction job: raw exposure partitions of a window -> curated partitions by ``dt``.

Each day of the window is re-extracted from every raw partition that can hold its events (late
events arrive a day later), so the job is idempotent: running it twice publishes the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.daily_output import publish_days
from components.core.schemas import CATALOG, CURATED_EXPOSURE, RAW_EXPOSURE
from components.core.spark import spark_session
from components.core.spark_errors import spark_stage
from components.core.sql import load_sql
from components.core.storage import open_storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractResult:
    ds: date
    rows_by_day: dict[date, int]

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


@spark_stage("extract")
def extract(config: PipelineConfig, ds: date, lookback_days: int | None = None) -> ExtractResult:
    """Publish curated exposures for the ``lookback_days`` days ending on ``ds``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    days = layout.window(
        ds, config.extract.lookback_days if lookback_days is None else lookback_days
    )
    storage = open_storage(config.storage)
    raw_keys = [layout.partition(layout.RAW_EXPOSURES, day) for day in days]
    catalog_key = layout.partition(layout.RAW_CATALOG, ds)
    partitions.require_published(storage, [*raw_keys, catalog_key])

    spark = spark_session(config.spark, config.storage, app_name=f"adagrpo-extract-{ds}")
    raw = (
        spark.read.schema(from_arrow_schema(RAW_EXPOSURE))
        .option("basePath", storage.uri(layout.RAW_EXPOSURES))
        .parquet(*(storage.uri(key) for key in raw_keys))
        .withColumnRenamed("dt", "arrival_dt")
    )
    raw.createOrReplaceTempView("raw_exposures")
    catalog = spark.read.schema(from_arrow_schema(CATALOG)).parquet(storage.uri(catalog_key))
    catalog.createOrReplaceTempView("catalog")
    window_start = datetime.combine(days[0], time(), tzinfo=UTC)
    curated = spark.sql(
        load_sql("extract_exposures"),
        args={"window_start": window_start, "window_end": window_start + timedelta(len(days))},
    )

    with storage.staging("extract") as staging:
        # One file per day, sorted (event_id breaks ties, so a rerun writes the same bytes): cheap
        # for readers that scan a user's history in time order. The partition column leads:
        # Spark's partitioned writer sorts by it again unless the order already starts with it.
        (
            curated.repartition("dt")
            .sortWithinPartitions("dt", "user_id", "ts", "event_id")
            .write.mode("overwrite")
            .partitionBy("dt")
            .parquet(storage.uri(staging))
        )
        counts = publish_days(
            spark,
            storage,
            staging,
            layout.CURATED_EXPOSURES,
            days,
            CURATED_EXPOSURE,
            {"producer": "extract", "lookback_days": len(days)},
        )
    result = ExtractResult(ds=ds, rows_by_day=counts)
    log.info("extract %s: %s curated rows over %d day(s)", ds, f"{result.rows:,}", len(days))
    return result
