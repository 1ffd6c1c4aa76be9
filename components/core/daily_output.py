"""Publish a Spark output partitioned by ``dt``: one committed partition per day.

Stages write their whole output aside (``df.write.partitionBy("dt")`` under a staging key), then
call :func:`publish_days`, which commits every expected day, even one without rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from components.core import layout, partitions
from components.core.storage import Storage

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


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
    settle_spark_files(storage, staging)
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


def content_digest(frame: DataFrame) -> Column:
    """An aggregate naming a frame's rows whatever their order or files: the exact sum of every
    row's 64-bit hash, as a decimal string. Equal digests: the same rows, so a consumer keyed
    by it (a training run's spec) need not redo its work when a partition is only rewritten."""
    from pyspark.sql import functions as F

    row_hash = F.xxhash64(*(F.col(f"`{name}`") for name in frame.columns))
    return F.coalesce(F.sum(row_hash.cast("decimal(38,0)")), F.lit(0)).cast("string")


# Spark names its files after the write job (part-00001-<job uuid>.c000.zstd.parquet) and the
# local file system adds a .crc beside each.
_JOB_UUID = re.compile(r"^(part-\d+)-[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_SPARK_MARKERS = re.compile(r"^(\..*\.crc|_SUCCESS)$")


def settle_spark_files(storage: Storage, staging: str) -> None:
    """Give a Spark output under ``staging`` the names its contents determine: the job's uuid
    dropped from the part files, Hadoop's checksum files and success marker removed. A rerun
    on the same input then publishes byte-identical partitions, names included."""
    for key in storage.list_keys(staging):
        folder, _, name = key.rpartition("/")
        if _SPARK_MARKERS.match(name):
            storage.delete(key)
        elif (settled := _JOB_UUID.sub(r"\1", name)) != name:
            storage.move(key, f"{folder}/{settled}")
