"""The Spark dataset builder: validated exposures + the day's SID map -> train/valid/test.

Rules for short sequences (documented in the README and tested): a user's positives are sorted
by time; each positive with at least one earlier positive is a target. Under leave-one-out the
last target is test and the one before is validation, so a user with one positive yields
nothing, a user with two yields only a test example, and a user with three yields test and
validation but no training example.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.daily_output import content_digest, settle_spark_files
from components.core.errors import BadInput
from components.core.schemas import CURATED_EXPOSURE
from components.core.spark import spark_session
from components.core.spark_errors import spark_stage
from components.core.sql import load_sql
from components.core.storage import Storage, open_storage
from components.validate.gate import validated_history

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from components.semantic_ids.api import SidMap

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class DatasetSummary:
    ds: date
    sid_version: int
    days: list[date]
    examples: dict[str, int]
    content: dict[str, str]  # per split its rows' digest, and the catalog's sha256
    users: int

    def manifest(self, config: PipelineConfig, tokens_per_item: int) -> dict[str, Any]:
        settings = config.datasets
        return {
            "producer": "build-dataset",
            "dt": self.ds.isoformat(),
            "sid_version": self.sid_version,
            "tokens_per_item": tokens_per_item,
            "history_days": [day.isoformat() for day in self.days],
            "examples": self.examples,
            "content": self.content,
            "rows": sum(self.examples.values()),
            "users": self.users,
            "split": settings.split,
            "positives": settings.positives,
            "max_history": settings.max_history,
        }


@spark_stage("build-dataset")
def build_dataset(config: PipelineConfig, ds: date) -> DatasetSummary:
    """Publish ``datasets/dt=<ds>/`` built from the validated history ending on ``ds``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    from components.semantic_ids.api import load_sid_map

    storage = open_storage(config.storage)
    days = validated_history(storage, layout.window(ds, config.datasets.history_days))
    sid_map = load_sid_map(storage, ds)
    spark = spark_session(config.spark, config.storage, app_name=f"adagrpo-dataset-{ds}")
    files = [
        uri
        for day in days
        for uri in partitions.published_files(
            storage, layout.partition(layout.CURATED_EXPOSURES, day)
        )
    ]
    exposures = spark.read.schema(from_arrow_schema(CURATED_EXPOSURE)).parquet(*files)
    catalog_sids = sid_tokens(sid_map)
    sids = spark.createDataFrame(catalog_sids.select(["item_id", "sid"]))
    require_known_items(exposures, sids)
    examples = training_examples(spark, exposures, sids, config, ds)
    staging = storage.staging_key("dataset")
    _write_splits(examples, storage, staging, config.datasets.shards)
    counts, digests, users = _count_splits(spark, storage, staging)
    if not counts["train"]:
        storage.delete_prefix(staging)
        raise BadInput(
            f"no training examples for {ds} ({counts}): too few users with enough positives "
            f"({config.datasets.positives}) in {days[0]}..{days[-1]}, or a hold-out "
            f"that covers the whole history"
        )
    catalog_bytes = Storage.parquet_bytes(catalog_sids)
    storage.write_bytes(f"{staging}/{layout.DATASET_CATALOG}", catalog_bytes)
    digests[layout.DATASET_CATALOG] = hashlib.sha256(catalog_bytes).hexdigest()
    summary = DatasetSummary(
        ds=ds,
        sid_version=sid_map.version,
        days=days,
        examples=counts,
        content=digests,
        users=users,
    )
    target = layout.partition(layout.DATASETS, ds)
    partitions.publish(storage, staging, target, summary.manifest(config, sid_map.tokens_per_item))
    log.info("dataset %s (SID v%d): %s", ds, sid_map.version, counts)
    return summary


def sid_tokens(sid_map: SidMap) -> pa.Table:
    """``item_id``, ``sid`` (list of tokens: codes per level, then de-dup) and ``listed``."""
    item_ids, tokens = sid_map.tokens()
    width = sid_map.tokens_per_item
    offsets = np.arange(0, len(item_ids) * width + 1, width, dtype=np.int32)
    sid = pa.ListArray.from_arrays(offsets, pa.array(tokens.reshape(-1), pa.int32()))
    listed = sid_map.table.sort_by("item_id").column("listed")
    return pa.table({"item_id": pa.array(item_ids, pa.int64()), "sid": sid, "listed": listed})


def training_examples(
    spark: SparkSession, exposures: DataFrame, sids: DataFrame, config: PipelineConfig, ds: date
) -> DataFrame:
    """One row per (user, target) with its history, SID tokens and split (sql/build_sequences)."""
    exposures.createOrReplaceTempView("exposures")
    sids.createOrReplaceTempView("sid_map")
    return spark.sql(load_sql("build_sequences"), args=_sql_args(config, ds))


def require_known_items(exposures: DataFrame, sids: DataFrame) -> None:
    unknown = exposures.select("item_id").distinct().join(sids, "item_id", "left_anti")
    examples = [row["item_id"] for row in unknown.limit(5).collect()]
    if examples:
        raise BadInput(
            f"{unknown.count()} item(s) in the exposures have no semantic ID "
            f"(e.g. {examples}): run semantic-ids for this date first"
        )


def _sql_args(config: PipelineConfig, ds: date) -> dict[str, Any]:
    settings = config.datasets
    day_after = datetime.combine(ds + timedelta(days=1), time(), tzinfo=UTC)
    holdout = timedelta(days=settings.temporal_holdout_days)
    return {
        "positives": settings.positives,
        "max_history": settings.max_history,
        "temporal": settings.split == "temporal",
        "holdout_start": day_after - holdout,
        "valid_start": day_after - 2 * holdout,
    }


def _write_splits(examples: DataFrame, storage: Storage, staging: str, shards: int) -> None:
    # Sorted shards: the same input gives the same rows in the same order, and a user's examples
    # lie together in one file, as the trainer folds them while it streams. The split leads the
    # order because the partitioned writer sorts by it: an order it already has is kept.
    (
        examples.repartition(shards, "user_id")
        .sortWithinPartitions("split", "user_id", "target_index")
        .write.mode("overwrite")
        .partitionBy("split")
        .parquet(storage.uri(staging))
    )
    settle_spark_files(storage, staging)
    # Spark names split folders split=train; the contract names them train/.
    for split in SPLITS:
        source = f"{staging}/split={split}"
        if storage.list_keys(source):
            storage.replace_prefix(source, f"{staging}/{split}")
        else:
            storage.write_parquet(f"{staging}/{split}/part-empty.parquet", _empty_like(examples))


def _empty_like(examples: DataFrame) -> pa.Table:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(examples.drop("split").schema).empty_table()


def _count_splits(
    spark: SparkSession, storage: Storage, staging: str
) -> tuple[dict[str, int], dict[str, str], int]:
    """Examples per split, each split's content digest, and the users that have at least one
    example."""
    from pyspark.sql import functions as F

    frames = {split: spark.read.parquet(storage.uri(f"{staging}/{split}")) for split in SPLITS}
    users = frames["train"].unionByName(frames["valid"]).unionByName(frames["test"])
    counts, digests = {}, {}
    for split, frame in frames.items():
        totals = frame.agg(F.count(F.lit(1)), content_digest(frame)).first()
        assert totals is not None  # an aggregate without grouping has one row
        counts[split], digests[split] = int(totals[0]), str(totals[1])
    return counts, digests, users.select("user_id").distinct().count()
