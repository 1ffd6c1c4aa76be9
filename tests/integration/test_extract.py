"""The Spark extraction job on hand-made raw logs: dedup, window edges, idempotency, atomicity."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pyarrow as pa
import pytest

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import open_storage
from components.extract.stage import extract
from tests.factories import at, exposure, publish_catalog, publish_raw_day
from tests.snapshots import published_files

pytestmark = pytest.mark.spark

DS = date(2026, 11, 3)
PREV = DS - timedelta(days=1)


def curated(config: PipelineConfig, day: date) -> pa.Table:
    storage = open_storage(config.storage)
    return storage.read_parquet(layout.partition(layout.CURATED_EXPOSURES, day))


@pytest.fixture
def raw_logs(config: PipelineConfig) -> None:
    """Two arrival days with a late event, duplicates and events outside the window."""
    storage = open_storage(config.storage)
    publish_catalog(storage, DS, item_ids=[1, 2, 3])
    publish_raw_day(
        storage,
        PREV,
        [
            exposure(1, at(PREV, 0, 0), item_id=1),  # first instant of the window's first day
            exposure(2, at(PREV, 23, 59), item_id=2, clicked=True),
            exposure(3, at(PREV - timedelta(days=1), 23, 0)),  # before the window
        ],
    )
    publish_raw_day(
        storage,
        DS,
        [
            exposure(2, at(PREV, 23, 59), item_id=2, clicked=True),  # re-delivered duplicate
            exposure(4, at(PREV, 22, 0), item_id=3),  # late: day PREV, arrived on DS
            exposure(5, at(DS, 8, 0), item_id=1),
            exposure(5, at(DS, 8, 0), item_id=1),  # duplicate inside one delivery
            exposure(6, at(DS, 23, 59), item_id=2),  # last minute of the window
            exposure(7, at(DS + timedelta(days=1), 0, 0)),  # first instant after the window
        ],
    )


@pytest.mark.usefixtures("raw_logs", "spark")
class TestExtract:
    def test_dedups_and_keeps_window(self, config: PipelineConfig) -> None:
        result = extract(config, DS, lookback_days=2)

        assert sorted(curated(config, PREV).column("event_id").to_pylist()) == [1, 2, 4]
        assert sorted(curated(config, DS).column("event_id").to_pylist()) == [5, 6]
        assert result.rows_by_day == {PREV: 3, DS: 2}

    def test_output_matches_contract_and_joins_catalog(self, config: PipelineConfig) -> None:
        extract(config, DS, lookback_days=2)

        table = curated(config, DS)
        assert table.schema.equals(CURATED_EXPOSURE, check_metadata=False)
        row = table.sort_by("event_id").to_pylist()[0]
        assert (row["category"], row["brand"], row["price"]) == ("cat1", "acme", 9.5)
        assert row["item_age_days"] == 1

    def test_rerun_publishes_the_same_bytes(self, config: PipelineConfig) -> None:
        storage = open_storage(config.storage)
        extract(config, DS, lookback_days=2)
        first = published_files(storage, layout.CURATED_EXPOSURES)
        extract(config, DS, lookback_days=2)

        assert published_files(storage, layout.CURATED_EXPOSURES) == first
        assert [key.rsplit("/", 1)[-1] for key in first if key.endswith(".parquet")] == [
            "part-00000.c000.zstd.parquet"
        ] * 2  # Spark's job uuid and checksum files gone

        assert (
            partitions.read_manifest(storage, layout.partition(layout.CURATED_EXPOSURES, DS))[
                "rows"
            ]
            == 2
        )
        assert not storage.list_keys("_staging")

    def test_one_day_window_ignores_late_events_of_earlier_days(
        self, config: PipelineConfig
    ) -> None:
        extract(config, DS, lookback_days=1)

        storage = open_storage(config.storage)
        assert not partitions.is_published(
            storage, layout.partition(layout.CURATED_EXPOSURES, PREV)
        )
        assert sorted(curated(config, DS).column("event_id").to_pylist()) == [5, 6]


@pytest.mark.usefixtures("spark")
def test_missing_raw_partition_is_named(config: PipelineConfig) -> None:
    storage = open_storage(config.storage)
    publish_catalog(storage, DS, item_ids=[1])
    publish_raw_day(storage, DS, [exposure(1, at(DS))])

    with pytest.raises(FileNotFoundError, match=f"raw/exposures/dt={PREV}"):
        extract(config, DS, lookback_days=2)


@pytest.mark.usefixtures("spark")
def test_empty_day_is_published_empty(config: PipelineConfig) -> None:
    storage = open_storage(config.storage)
    publish_catalog(storage, DS, item_ids=[1])
    publish_raw_day(storage, DS, [exposure(1, at(DS - timedelta(days=3)))])

    result = extract(config, DS, lookback_days=1)

    assert result.rows == 0
    table = curated(config, DS)
    assert table.num_rows == 0 and table.schema.equals(CURATED_EXPOSURE, check_metadata=False)


@pytest.mark.usefixtures("raw_logs")
def test_runs_through_spark_connect(config: PipelineConfig) -> None:
    """`spark.connect_url` switches the same job to a Spark Connect client (local server)."""
    command = [
        sys.executable, "-m", "components.cli", "extract", "--ds", DS.isoformat(),
        "--lookback-days", "2", "--root", config.storage.root,
        "--set", "spark.connect_url=local[2]",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert sorted(curated(config, DS).column("event_id").to_pylist()) == [5, 6]


def test_each_curated_day_of_the_tiny_shop_is_one_file_sorted_by_user_time_and_event(
    tiny_shop: PipelineConfig,
) -> None:
    for day in (PREV - timedelta(days=1), PREV, DS):
        files = partitions.read_manifest(
            open_storage(tiny_shop.storage), layout.partition(layout.CURATED_EXPOSURES, day)
        )["files"]
        table = curated(tiny_shop, day)
        keys = list(
            zip(*(table[c].to_pylist() for c in ("user_id", "ts", "event_id")), strict=True)
        )

        assert len(files) == 1
        assert table.num_rows > 1000 and keys == sorted(keys)
