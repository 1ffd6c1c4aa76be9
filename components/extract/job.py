"""The Spark extraction job: raw exposure partitions of a window -> curated partitions by ``dt``.

Each day of the window is re-extracted from every raw partition that can hold its events (late
events arrive a day later), so the job is idempotent: running it twice publishes the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.schemas import CATALOG, CURATED_EXPOSURE, RAW_EXPOSURE
from components.core.spark import spark_session
from components.core.sql import load_sql
from components.core.storage import Storage, open_storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractResult:
    ds: date
    rows_by_day: dict[date, int]

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


def extract(config: PipelineConfig, ds: date, lookback_days: int | None = None) -> ExtractResult:
    """Publish curated exposures for the ``lookback_days`` days ending on ``ds``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    days = layout.window(
        ds, config.extract.lookback_days if lookback_days is None else lookback_days
    )
    storage = open_storage(config.storage)
    raw_keys = _require_published(storage, layout.RAW_EXPOSURES, days)
    catalog_key = _require_published(storage, layout.RAW_CATALOG, [ds])[0]

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

    staging = storage.staging_key("extract")
    # One sorted file per day: cheap for readers that scan a user's history in time order.
    (
        curated.repartition("dt")
        .sortWithinPartitions("user_id", "ts")
        .write.mode("overwrite")
        .partitionBy("dt")
        .parquet(storage.uri(staging))
    )
    counts = _rows_by_day(spark, storage, staging)
    for day in days:
        _publish_day(storage, staging, day, counts.get(day, 0), lookback=len(days))
    storage.delete_prefix(staging)
    result = ExtractResult(ds=ds, rows_by_day={day: counts.get(day, 0) for day in days})
    log.info("extract %s: %s curated rows over %d day(s)", ds, f"{result.rows:,}", len(days))
    return result


def _require_published(storage: Storage, dataset: str, days: list[date]) -> list[str]:
    keys = [layout.partition(dataset, day) for day in days]
    missing = [k for k in keys if not partitions.is_published(storage, k)]
    if missing:
        raise FileNotFoundError(
            f"input partitions not published under {storage.uri('')}: {', '.join(missing)}"
        )
    return keys


def _rows_by_day(spark: SparkSession, storage: Storage, staging: str) -> dict[date, int]:
    if not storage.list_keys(staging):
        return {}
    frame = spark.read.parquet(storage.uri(staging))
    return {
        date.fromisoformat(str(row["dt"])): int(row["count"])
        for row in frame.groupBy("dt").count().collect()
    }


def _publish_day(storage: Storage, staging: str, day: date, rows: int, lookback: int) -> None:
    source = f"{staging}/dt={day.isoformat()}"
    if rows == 0:
        # An empty day is still published (with its schema) so validation can flag it.
        storage.write_parquet(f"{source}/part-empty.parquet", CURATED_EXPOSURE.empty_table())
    partitions.publish(
        storage,
        source,
        layout.partition(layout.CURATED_EXPOSURES, day),
        {"rows": rows, "producer": "extract", "dt": day.isoformat(), "lookback_days": lookback},
    )
