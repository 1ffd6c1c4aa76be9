"""The features stage with real Spark and Feast: snapshots against hand-computed values, the
point-in-time join of the ranker rows, the online store, reruns, the validation gate, the CLI."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import FeatureView

from components import cli
from components.core import partitions
from components.core.config import PipelineConfig, load_config
from components.core.layout import (
    CURATED_EXPOSURES,
    FEATURES_FEAST,
    RANKER_ROWS,
    partition,
    ranker_rows_file,
)
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import LocalStorage, S3Storage, Storage, open_storage
from components.features.days import run_days
from components.features.feast_repo import (
    FeastPlaces,
    open_store,
    repo_config,
    repo_objects,
    repo_settings,
)
from components.features.schema import (
    EVENT_TIMESTAMP,
    ITEM_STATS,
    USER_STATS,
    StatsView,
    snapshot_time,
)
from components.features.stage import build_features, serve_features, serve_online
from components.features.training_rows import ROW_ORDER
from components.validate.gate import PartitionFailedValidation
from components.validate.result import ExpectationOutcome, PartitionResult, Status, result_key
from tests.factories import at, exposure, publish_catalog
from tests.redis_server import redis_server
from tests.snapshots import published_files

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning:dask"),  # dask about its pandas calls
]

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
MIDNIGHT_D2 = at(D2, 0, 0)
LAST_INSTANT_D3 = at(D3, 23, 59) + timedelta(seconds=59, microseconds=999_999)
SETTINGS = ["features.windows_days=[1, 2]", "features.training_days=2", "spark.master=local[2]"]
# The catalog of D3 (tests.factories): item i is created i % 5 days before D3, in category
# cat<i % 3>: item 2 is listed from D1, items 3 and 4 from before, item 5 from D3 on.
ITEMS = [2, 3, 4, 5]


def shown(event_id: int, ts: datetime, user_id: int, item_id: int, **fields: Any) -> dict[str, Any]:
    """A curated exposure (the catalog's category; other item columns are not features)."""
    row = exposure(event_id, ts, user_id=user_id, item_id=item_id, **fields)
    return {
        **row,
        "category": f"cat{item_id % 3}",
        "brand": "acme",
        "price": 9.5,
        "item_age_days": 0,
    }


EXPOSURES = {
    D1: [
        shown(10, at(D1, 10), user_id=1, item_id=2, clicked=True),
        shown(11, at(D1, 10), user_id=1, item_id=3, position=2),  # same slate as event 10
        shown(12, at(D1, 11), user_id=1, item_id=4, clicked=True, purchased=True),
        shown(13, at(D1, 12), user_id=2, item_id=3),
        shown(14, at(D1, 13), user_id=4, item_id=4),  # user 4 is never seen again
    ],
    D2: [
        shown(20, MIDNIGHT_D2, user_id=1, item_id=3, clicked=True),  # the first instant of D2
        shown(21, MIDNIGHT_D2, user_id=1, item_id=2, position=2),
        shown(22, at(D2, 15), user_id=1, item_id=4, clicked=True),
        shown(23, at(D2, 15), user_id=2, item_id=2, clicked=True),
    ],
    D3: [
        shown(30, at(D3, 9), user_id=1, item_id=2),
        shown(31, at(D3, 9, 30), user_id=3, item_id=5),  # a new user, a new item
        shown(32, LAST_INSTANT_D3, user_id=2, item_id=3, clicked=True),
    ],
}


def publish_validated_day(storage: Storage, day: date, rows: list[dict[str, Any]]) -> None:
    staging = storage.staging_key("test-curated")
    table = pa.Table.from_pylist(rows, CURATED_EXPOSURE)
    storage.write_parquet(f"{staging}/part-00000.parquet", table)
    partitions.publish(
        storage, staging, partition(CURATED_EXPOSURES, day), {"rows": len(rows), "dt": str(day)}
    )
    record_validation(storage, day, Status.PASSED)


def record_validation(storage: Storage, day: date, status: Status) -> None:
    """Store a verdict on the committed publication of ``day``, as the validate stage does."""
    manifest = partitions.read_manifest(storage, partition(CURATED_EXPOSURES, day))
    outcome = ExpectationOutcome("expect_column_values_to_not_be_null", ("ts",), "not null", status)
    result = PartitionResult(
        dt=day,
        ds=D3,
        published_at=manifest["published_at"],
        rows=manifest["rows"],
        validated_at=datetime.now(UTC).isoformat(),
        outcomes=(outcome,),
    )
    storage.write_json(result_key(day), result.to_json())


def hand_made_shop(root: Path) -> PipelineConfig:
    storage = LocalStorage(root)
    publish_catalog(storage, D3, ITEMS)
    for day, rows in EXPOSURES.items():
        publish_validated_day(storage, day, rows)
    return configured(root)


def configured(root: Path, *settings: str) -> PipelineConfig:
    """The test settings for the shop at ``root``, then ``settings``."""
    return load_config(overrides=[f"storage.root={root}", *SETTINGS, *settings], environ={})


def copied(config: PipelineConfig, root: Path) -> Path:
    """A copy of ``config``'s storage root at ``root``, for a test that writes."""
    shutil.copytree(config.storage.root, root)
    return root


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, spark: object) -> PipelineConfig:
    """The hand-made shop after one run of the features stage for D3."""
    config = hand_made_shop(tmp_path_factory.mktemp("features"))
    build_features(config, D3)
    return config


def snapshot(config: PipelineConfig, view: StatsView, day: date) -> dict[int, dict[str, Any]]:
    """The snapshot of ``day`` in the source of the configured windows, by entity."""
    source = view.offline_source(config.features.windows_days)
    table = open_storage(config.storage).read_parquet(partition(source, day))
    return {row.pop(view.join_key): rounded(row) for row in table.to_pylist()}


def ranker_rows(config: PipelineConfig) -> dict[int, dict[str, Any]]:
    table = open_storage(config.storage).read_parquet(partition(RANKER_ROWS, D3))
    return {row["event_id"]: rounded(row) for row in table.to_pylist()}


def rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {name: round(v, 6) if isinstance(v, float) else v for name, v in row.items()}


USER_STATISTICS = (
    "exposures",
    "clicks",
    "purchases",
    "click_rate",
    "top_category",
    "top_category_share",
)
ITEM_STATISTICS = ("exposures", "clicks", "ctr", "popularity_pct")


def windowed(days: int, names: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return {f"{name}_{days}d": value for name, value in zip(names, values, strict=True)}


def item_stats(age: int, day: tuple[Any, ...], two_days: tuple[Any, ...]) -> dict[str, Any]:
    return {
        EVENT_TIMESTAMP: at(D3 + timedelta(days=1), 0),
        **windowed(1, ITEM_STATISTICS, day),
        **windowed(2, ITEM_STATISTICS, two_days),
        "age_days": age,
    }


class TestSnapshots:
    def test_user_statistics_match_hand_computed_values(self, shop: PipelineConfig) -> None:
        users = snapshot(shop, USER_STATS, D2)

        assert users.keys() == {1, 2, 4}  # user 4: active in the 2-day window only
        assert users[1] == {
            EVENT_TIMESTAMP: at(D3, 0),  # valid from the end of D2
            # A tie between categories goes to the first name.
            **windowed(1, USER_STATISTICS, (3, 2, 0, 0.666667, "cat0", 0.5)),
            **windowed(2, USER_STATISTICS, (6, 4, 1, 0.666667, "cat1", 0.5)),
        }
        assert users[2] == {
            EVENT_TIMESTAMP: at(D3, 0),
            **windowed(1, USER_STATISTICS, (1, 1, 0, 1.0, "cat2", 1.0)),
            **windowed(2, USER_STATISTICS, (2, 1, 0, 0.5, "cat2", 1.0)),
        }
        assert users[4] == {
            EVENT_TIMESTAMP: at(D3, 0),
            **windowed(1, USER_STATISTICS, (0, 0, 0, None, None, None)),
            **windowed(2, USER_STATISTICS, (1, 0, 0, 0.0, None, None)),
        }

    def test_item_statistics_cover_the_catalog(self, shop: PipelineConfig) -> None:
        items = snapshot(shop, ITEM_STATS, D3)

        assert items == {
            2: item_stats(age=2, day=(1, 0, 0.0, 0.0), two_days=(3, 1, 0.333333, 0.333333)),
            3: item_stats(age=3, day=(1, 1, 1.0, 1.0), two_days=(2, 2, 1.0, 1.0)),
            4: item_stats(age=4, day=(0, 0, None, 0.0), two_days=(1, 1, 1.0, 0.333333)),
            5: item_stats(age=0, day=(1, 0, 0.0, 0.0), two_days=(1, 0, 0.0, 0.0)),
        }
        assert 5 not in snapshot(shop, ITEM_STATS, D2)  # not listed yet

    def test_each_snapshot_day_is_published(self, shop: PipelineConfig) -> None:
        storage = open_storage(shop.storage)
        for view in (USER_STATS, ITEM_STATS):
            source = view.offline_source(shop.features.windows_days)
            assert source == f"features/offline/{view.name}/w=1-2"
            for day in (D1, D2, D3):
                manifest = partitions.read_manifest(storage, partition(source, day))
                assert manifest["windows_days"] == [1, 2]
        assert not storage.list_keys("_staging")


class TestRankerRows:
    def test_every_training_exposure_is_one_row(self, shop: PipelineConfig) -> None:
        rows = ranker_rows(shop)

        # Events 20 and 21 share user and time (one slate): both keep their row.
        assert sorted(rows) == [20, 21, 22, 23, 30, 31, 32]
        assert rows[20]["clicked"] is True and rows[20]["position"] == 1

    def test_rows_see_only_snapshots_of_earlier_days(self, shop: PipelineConfig) -> None:
        rows = ranker_rows(shop)

        # User 1's stats change on D2; its D2 exposures, even at midnight, see D1's snapshot.
        for event_id in (20, 21, 22):
            assert rows[event_id]["user_stats__exposures_2d"] == 3
            assert rows[event_id]["user_stats__clicks_2d"] == 2
        assert rows[20]["item_stats__clicks_2d"] == 0  # event 20's own click is not counted
        assert rows[30]["user_stats__exposures_2d"] == 6  # D3 sees D2's snapshot
        # The last instant of D3 still sees D2's snapshot, not D3's (2 clicks).
        assert rows[32]["user_stats__clicks_2d"] == 1
        assert rows[32]["item_stats__clicks_2d"] == 1

    def test_unknown_entities_get_no_features(self, shop: PipelineConfig) -> None:
        row = ranker_rows(shop)[31]

        assert row["user_stats__exposures_2d"] is None  # a new user
        assert row["item_stats__age_days"] is None  # an item listed on the exposure's day

    def test_spark_sorts_each_day_as_extract_sorts_the_curated_files(
        self, shop: PipelineConfig
    ) -> None:
        table = open_storage(shop.storage).read_parquet(partition(RANKER_ROWS, D3))
        keys = list(zip(*(table[column].to_pylist() for column in ROW_ORDER), strict=True))

        assert keys[:4] == sorted(keys[:4]) and keys[4:] == sorted(keys[4:])  # D2, then D3

    def test_feasts_point_in_time_join_a_few_exposures_at_a_time_gives_the_same_rows(
        self, shop: PipelineConfig, tmp_path: Path
    ) -> None:
        config = configured(
            copied(shop, tmp_path / "shop"), "features.rows_engine=feast", "features.join_rows=2"
        )
        storage = open_storage(config.storage)

        serve_features(config, D3, run_days(storage, D3, config.features))

        target = partition(RANKER_ROWS, D3)
        by_feast = storage.read_parquet(target).sort_by("event_id")
        by_spark = open_storage(shop.storage).read_parquet(target).sort_by("event_id")
        assert by_feast.equals(by_spark)
        day = pq.ParquetFile(Path(storage.uri(f"{target}/{ranker_rows_file(D3)}")))
        assert [day.metadata.row_group(i).num_rows for i in range(day.num_row_groups)] == [2, 1]

    def test_manifest_names_the_features(self, shop: PipelineConfig) -> None:
        storage = open_storage(shop.storage)
        manifest = partitions.read_manifest(storage, partition(RANKER_ROWS, D3))
        columns = storage.read_parquet(partition(RANKER_ROWS, D3)).column_names

        assert manifest["features"] == [c for c in columns if "__" in c]
        assert len(manifest["features"]) == 2 * 6 + 2 * 4 + 1  # user, item stats x 2 windows; age
        assert manifest["label"] == "clicked"
        assert manifest["exposure_days"] == [str(D2), str(D3)]
        assert manifest["rows"] == 7


def online_features(config: PipelineConfig) -> dict[str, list[Any]]:
    store = open_store(config.features, open_storage(config.storage))
    response = store.get_online_features(
        features=["user_stats:exposures_2d", "user_stats:top_category_2d", "item_stats:age_days"],
        entity_rows=[{"user_id": 1, "item_id": 5}, {"user_id": 2, "item_id": 4}],
    )
    return response.to_dict()


def test_online_store_serves_the_latest_snapshot(shop: PipelineConfig) -> None:
    assert online_features(shop) == {
        "user_id": [1, 2],
        "item_id": [5, 4],
        "exposures_2d": [4, 2],
        "top_category_2d": ["cat0", "cat0"],
        "age_days": [0, 4],
    }


def test_online_store_loads_a_few_entities_at_a_time_and_a_backfill_keeps_newer_values(
    shop: PipelineConfig, tmp_path: Path
) -> None:
    config = configured(copied(shop, tmp_path / "shop"), "features.online_batch_rows=1")
    storage = open_storage(config.storage)
    shutil.rmtree(storage.uri(FEATURES_FEAST))  # a new registry and online store

    serve_online(config, storage, D3)

    assert online_features(config) == online_features(shop)
    store = open_store(config.features, storage)
    assert store.get_feature_view("user_stats").most_recent_end_time == snapshot_time(D3)
    # A backfill of D2 leaves D3's values, and the interval, in place.
    serve_online(config, storage, D2)
    assert online_features(config) == online_features(shop)
    store = open_store(config.features, storage)
    assert store.get_feature_view("item_stats").most_recent_end_time == snapshot_time(D3)


def test_a_redis_online_store_serves_what_the_sqlite_store_serves(
    shop: PipelineConfig, tmp_path: Path
) -> None:
    with redis_server() as connection:
        config = configured(
            copied(shop, tmp_path / "shop"),
            "features.online_store=redis",
            f"features.redis_connection={connection}",
        )
        storage = open_storage(config.storage)
        shutil.rmtree(storage.uri(FEATURES_FEAST))  # a new registry, the store in Redis

        serve_online(config, storage, D3)

        assert online_features(config) == online_features(shop)
        assert not storage.exists(f"{FEATURES_FEAST}/online.db")  # nothing went to SQLite
        # A backfill of D2 leaves D3's values in Redis, as in SQLite.
        serve_online(config, storage, D2)
        assert online_features(config) == online_features(shop)


def test_rerun_publishes_the_same_bytes(shop: PipelineConfig) -> None:
    storage = open_storage(shop.storage)
    published, online = published_files(storage, "features"), online_features(shop)
    assert any(key.endswith(".parquet") for key in published)

    build_features(shop, D3)

    assert published_files(storage, "features") == published
    assert online_features(shop) == online
    assert not open_storage(shop.storage).list_keys("_staging")


def test_changed_windows_get_a_source_of_their_own(shop: PipelineConfig, tmp_path: Path) -> None:
    # One training day: the first run's D1 snapshot, with the old columns, is not republished.
    root = copied(shop, tmp_path / "shop")
    config = configured(root, "features.windows_days=[3]", "features.training_days=1")

    build_features(config, D3)

    storage = open_storage(config.storage)
    columns = storage.read_parquet(partition(RANKER_ROWS, D3)).column_names
    assert [c for c in columns if "__" in c] == [
        *(f"user_stats__{name}_3d" for name in USER_STATISTICS),
        *(f"item_stats__{name}_3d" for name in ITEM_STATISTICS),
        "item_stats__age_days",
    ]
    rows = ranker_rows(config)
    assert sorted(rows) == [30, 31, 32]
    assert rows[30]["user_stats__exposures_3d"] == 6  # D2's snapshot: D1 and D2
    assert rows[32]["item_stats__clicks_3d"] == 1
    # Each window set keeps its own source; the views read the new one only.
    for view in (USER_STATS, ITEM_STATS):
        assert dts(storage, view.offline_source([1, 2])) == [D1, D2, D3]
        assert dts(storage, view.offline_source([3])) == [D2, D3]
    store = open_store(config.features, storage)
    assert store.get_feature_view("user_stats").batch_source.path == storage.uri(
        USER_STATS.offline_source([3])
    )
    # A rerun of the same day loads the online store with the new columns.
    online = store.get_online_features(
        features=["user_stats:exposures_3d"], entity_rows=[{"user_id": 1}, {"user_id": 2}]
    )
    assert online.to_dict()["exposures_3d"] == [7, 3]


def dts(storage: Storage, source: str) -> list[date]:
    """The days with a committed snapshot in ``source``."""
    folders = {key.split("/")[-2] for key in storage.list_keys(source)}
    return sorted(
        date.fromisoformat(folder.removeprefix("dt="))
        for folder in folders
        if partitions.is_published(storage, f"{source}/{folder}")
    )


def test_only_the_files_the_gate_checked_are_read(shop: PipelineConfig, tmp_path: Path) -> None:
    # A file that no manifest lists, as a republish racing the run would leave: never read.
    root = copied(shop, tmp_path / "shop")
    storage = LocalStorage(root)
    for day in (D2, D3):
        stray = shown(99, at(day, 16), user_id=1, item_id=2, clicked=True)
        stray_file = f"{partition(CURATED_EXPOSURES, day)}/part-99999.parquet"
        storage.write_parquet(stray_file, pa.Table.from_pylist([stray], CURATED_EXPOSURE))
    config = configured(root)

    build_features(config, D3)

    assert ranker_rows(config) == ranker_rows(shop)  # the spark snapshots and the pyarrow rows
    assert snapshot(config, USER_STATS, D2) == snapshot(shop, USER_STATS, D2)


@pytest.mark.usefixtures("spark")
def test_partition_that_failed_validation_is_refused(tmp_path: Path) -> None:
    config = hand_made_shop(tmp_path)
    storage = open_storage(config.storage)
    record_validation(storage, D2, Status.FAILED)

    with pytest.raises(PartitionFailedValidation, match=f"dt={D2}.*validation failed"):
        build_features(config, D3)
    assert not storage.exists("features")  # refused before any work


LOCAL_PLACES = FeastPlaces(Path("/feast"), "/feast/registry.db", s3_endpoint=None)


@pytest.mark.parametrize(
    ("online_store", "expected"),
    [
        ("sqlite", {"type": "sqlite", "path": "/feast/online.db"}),
        ("redis", {"type": "redis", "connection_string": "cache:6380,db=1"}),
    ],
)
def test_repo_settings_name_the_configured_online_store(
    online_store: str, expected: dict[str, str]
) -> None:
    settings = [
        f"features.online_store={online_store}",
        "features.redis_connection=cache:6380,db=1",
    ]
    config = load_config(overrides=settings, environ={})

    feast_settings = repo_settings(config.features, LOCAL_PLACES)

    assert feast_settings["online_store"] == expected
    assert feast_settings["registry"]["path"] == "/feast/registry.db"


def test_redis_repo_config_builds() -> None:
    config = load_config(overrides=["features.online_store=redis"], environ={})

    assert repo_config(config.features, LOCAL_PLACES).online_store.connection_string == (
        "localhost:6379"
    )


def test_an_s3_root_keeps_the_registry_and_the_sources_on_s3_at_its_endpoint() -> None:
    storage = S3Storage("s3://lake/adagrpo", endpoint_url="http://minio:9000", region="us-east-1")
    places = FeastPlaces.of(storage)

    assert places.registry == "s3://lake/adagrpo/features/feast/registry.db"
    assert places.s3_endpoint == "http://minio:9000"
    views = {o.name: o for o in repo_objects(storage, [7]) if isinstance(o, FeatureView)}
    source = views["user_stats"].batch_source
    assert source.path == "s3://lake/adagrpo/features/offline/user_stats/w=7"
    assert source.s3_endpoint_override == "http://minio:9000"


def test_cli_on_a_tiny_simulated_shop(tiny_shop: PipelineConfig, tmp_path: Path) -> None:
    root = copied(tiny_shop, tmp_path / "tiny-shop")  # the shared shop stays as published
    argv = ["features", "--root", str(root), "--ds", str(D3)]
    assert cli.main([*argv, "--set", "features.training_days=2"]) == 0

    storage = LocalStorage(root)
    manifest = partitions.read_manifest(storage, partition(RANKER_ROWS, D3))
    curated = [partitions.read_manifest(storage, partition(CURATED_EXPOSURES, d)) for d in (D2, D3)]
    assert manifest["rows"] == sum(m["rows"] for m in curated)
    rows = storage.read_parquet(partition(RANKER_ROWS, D3)).to_pandas()
    # Nearly every user was active the day before; every exposed item is in the catalog.
    assert rows["user_stats__exposures_30d"].notna().mean() > 0.9
    assert rows["item_stats__age_days"].notna().all()
    assert storage.exists("features/feast/registry.db")
    assert storage.exists("features/feast/online.db")
