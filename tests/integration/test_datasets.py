"""Dataset builder: split rules on hand-made sequences, and end to end on a tiny shop."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.core.config import PipelineConfig, load_config
from components.datasets.stage import training_examples
from tests.snapshots import published_files

pytestmark = pytest.mark.spark

DS = date(2026, 11, 3)
SIDS = {item: [item % 4, item // 4, 0] for item in range(1, 40)}


def positives(user: int, items: list[int], day: date = DS, clicked: bool = True) -> list[dict]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [
        {
            "event_id": user * 1000 + index,
            "user_id": user,
            "item_id": item,
            "ts": start + timedelta(minutes=index),
            "clicked": clicked,
            "purchased": False,
        }
        for index, item in enumerate(items)
    ]


def examples(spark, rows: list[dict], *overrides: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    config = load_config(overrides=list(overrides), environ={})
    exposures = spark.createDataFrame(rows)
    sids = spark.createDataFrame([{"item_id": k, "sid": v} for k, v in SIDS.items()])
    frame = training_examples(spark, exposures, sids, config, DS)
    return sorted(
        (row.asDict() for row in frame.collect()), key=lambda r: (r["user_id"], r["target_index"])
    )


def test_leave_one_out_split(spark) -> None:  # type: ignore[no-untyped-def]
    rows = examples(spark, positives(1, [5, 6, 7, 8, 9]))

    assert [(r["target_item_id"], r["split"]) for r in rows] == [
        (6, "train"), (7, "train"), (8, "valid"), (9, "test"),
    ]  # fmt: skip
    test = rows[-1]
    assert test["history_item_ids"] == [5, 6, 7, 8]
    assert test["target_sid"] == SIDS[9]
    assert test["history_sids"] == SIDS[5] + SIDS[6] + SIDS[7] + SIDS[8]


@pytest.mark.parametrize(
    ("items", "splits"),
    [([3], []), ([3, 4], ["test"]), ([3, 4, 5], ["valid", "test"])],
    ids=["one positive: nothing", "two: test only", "three: valid and test"],
)
def test_short_sequences(spark, items: list[int], splits: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert [r["split"] for r in examples(spark, positives(2, items))] == splits


def test_history_is_capped_and_most_recent(spark) -> None:  # type: ignore[no-untyped-def]
    rows = examples(spark, positives(1, list(range(1, 13))), "datasets.max_history=3")

    test = rows[-1]
    assert test["target_item_id"] == 12
    assert test["history_item_ids"] == [9, 10, 11]
    assert len(test["history_sids"]) == 3 * 3


def test_only_configured_positives_count(spark) -> None:  # type: ignore[no-untyped-def]
    unclicked = positives(1, [20, 21, 22], clicked=False)
    clicked = positives(1, [5, 6], day=DS - timedelta(days=1))
    rows = examples(spark, clicked + unclicked)
    assert [(r["history_item_ids"], r["target_item_id"]) for r in rows] == [([5], 6)]


def test_order_follows_time_not_input(spark) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(reversed(positives(1, [5, 6, 7])))
    assert examples(spark, shuffled)[-1]["history_item_ids"] == [5, 6]


def test_temporal_split(spark) -> None:  # type: ignore[no-untyped-def]
    rows = (
        positives(1, [1, 2], day=DS - timedelta(days=2))
        + positives(1, [3], day=DS - timedelta(days=1))
        + positives(1, [4, 5], day=DS)
    )
    for offset, row in enumerate(rows):
        row["event_id"] = offset  # unique across the days
    result = examples(spark, rows, "datasets.split=temporal")

    assert [(r["target_item_id"], r["split"]) for r in result] == [
        (2, "train"), (3, "valid"), (4, "test"), (5, "test"),
    ]  # fmt: skip


@pytest.fixture
def own_shop(tiny_shop: PipelineConfig, tmp_path: Path) -> PipelineConfig:
    """A copy of the session's tiny shop that a test may write to (the shared one is read-only)."""
    root = tmp_path / "shop"
    shutil.copytree(tiny_shop.storage.root, root, ignore=shutil.ignore_patterns("_staging"))
    storage = tiny_shop.storage.model_copy(update={"root": str(root)})
    return tiny_shop.model_copy(update={"storage": storage})


def test_end_to_end_on_a_tiny_shop(own_shop: PipelineConfig) -> None:
    from components.core import layout, partitions
    from components.core.storage import open_storage
    from components.datasets.stage import build_dataset

    tiny_shop = own_shop
    summary = build_dataset(tiny_shop, DS)

    storage = open_storage(tiny_shop.storage)
    manifest = partitions.read_manifest(storage, layout.partition(layout.DATASETS, DS))
    assert manifest["sid_version"] == summary.sid_version == 1
    assert manifest["tokens_per_item"] == 4
    assert set(manifest["content"]) == {"train", "valid", "test", "catalog_sids.parquet"}
    assert summary.examples["test"] >= summary.examples["valid"] > 0  # 2-positive users: test only
    assert summary.examples["train"] > summary.examples["test"]
    test = storage.read_parquet(f"{layout.partition(layout.DATASETS, DS)}/test")
    assert test.num_rows == summary.examples["test"]
    catalog = storage.read_parquet(f"{layout.partition(layout.DATASETS, DS)}/catalog_sids.parquet")
    assert set(test.column("target_item_id").to_pylist()) <= set(
        catalog.column("item_id").to_pylist()
    )
    # Each file sorted by user and target, a user in one file: the trainer folds as it streams.
    users_of_files = []
    for key in storage.list_keys(f"{layout.partition(layout.DATASETS, DS)}/train/"):
        rows = storage.read_parquet(key, columns=["user_id", "target_index"])
        order = list(
            zip(*(rows.column(name).to_pylist() for name in rows.column_names), strict=True)
        )
        assert order == sorted(order), key
        users_of_files.append(set(rows.column("user_id").to_pylist()))
    assert sum(map(len, users_of_files)) == len(set().union(*users_of_files))

    # Deterministic: a rebuild publishes the same bytes.
    published = published_files(storage, layout.partition(layout.DATASETS, DS))
    build_dataset(tiny_shop, DS)
    assert published_files(storage, layout.partition(layout.DATASETS, DS)) == published


def test_refuses_a_partition_that_failed_validation(own_shop: PipelineConfig) -> None:
    from components.core import layout, partitions
    from components.core.storage import open_storage
    from components.datasets.stage import build_dataset
    from components.validate.gate import PartitionFailedValidation

    storage = open_storage(own_shop.storage)
    key = f"quality/exposures/dt={DS - timedelta(days=1)}/result.json"
    result = storage.read_json(key)
    storage.write_json(key, {**result, "success": False, "failed_expectations": ["planted"]})
    with pytest.raises(PartitionFailedValidation, match=r"planted|failed"):
        build_dataset(own_shop, DS)
    assert not partitions.is_published(storage, layout.partition(layout.DATASETS, DS))


def test_items_without_a_semantic_id_are_named(spark) -> None:  # type: ignore[no-untyped-def]
    from components.datasets.stage import require_known_items

    exposures = spark.createDataFrame(positives(1, [5, 99]))
    sids = spark.createDataFrame([{"item_id": 5, "sid": SIDS[5]}])
    with pytest.raises(ValueError, match=r"1 item\(s\) .* \(e\.g\. \[99\]\)"):
        require_known_items(exposures, sids)
