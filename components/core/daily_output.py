"""Publish a Spark output partitioned by ``dt``: one committed partition per day.

Stages write their whole output aside (``df.write.partitionBy("dt")`` under a staging key), then
call :func:`publish_days`, which commits every expected day, even one without rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from components.core import layout, partitions
from components.core.storage import Storage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def publish_days(
    spark: SparkSession,
    storage: Storage,
    staging: str,
    dataset: str,
    days: Sequence[date],
    schema: pa.Schema,
    manifest: dict[str, Any],
) -> dict[date, int]:
    """Commit ``staging/dt=<day>`` as ``dataset/dt=<day>`` for every day; rows per day.

    A day without rows is published empty, with ``schema``, so that readers tell "nothing
    happened" from "not run". The staging key is removed afterwards.
    """
    counts = rows_by_day(spark, storage, staging)
    for day in days:
        rows = counts.get(day, 0)
        source = f"{staging}/dt={day.isoformat()}"
        if rows == 0:
            storage.write_parquet(f"{source}/part-empty.parquet", schema.empty_table())
        partitions.publish(
            storage,
            source,
            layout.partition(dataset, day),
            {**manifest, "rows": rows, "dt": day.isoformat()},
        )
    storage.delete_prefix(staging)
    return {day: counts.get(day, 0) for day in days}


def rows_by_day(spark: SparkSession, storage: Storage, staging: str) -> dict[date, int]:
    """Rows per ``dt`` folder of a Spark output (read from the parquet footers)."""
    if not storage.list_keys(staging):
        return {}
    frame = spark.read.parquet(storage.uri(staging))
    return {
        date.fromisoformat(str(row["dt"])): int(row["count"])
        for row in frame.groupBy("dt").count().collect()
    }
