"""The pipeline's Feast feature repository: its store settings, entities and feature views.

Laid out like a Feast repo (what ``feature_store.yaml`` would hold, then the definitions),
except that the feature views are built by a function: their sources live under the run's
storage root and their windows are configured. Last come the stage's three uses of the store:
open it, apply the definitions, materialize the online store.

The registry and the SQLite online store live next to the offline sources under the storage
root (``features/feast/``); Redis replaces SQLite when ``features.online_store`` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.feast_object import FeastObject
from feast.types import Float64, Int32, Int64, PrimitiveFeastType, String

from components.core.config import FeatureConfig
from components.core.layout import FEATURES_FEAST
from components.core.storage import LocalStorage, Storage
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS, StatsView

log = logging.getLogger(__name__)

PROJECT = "adagrpo"


def repo_settings(config: FeatureConfig, feast_dir: Path) -> dict[str, Any]:
    """The store's settings, in ``feature_store.yaml`` terms."""
    online_store: dict[str, Any] = (
        {"type": "redis", "connection_string": config.redis_connection}
        if config.online_store == "redis"
        else {"type": "sqlite", "path": str(feast_dir / "online.db")}
    )
    return {
        "project": PROJECT,
        "provider": "local",
        "registry": {"registry_type": "file", "path": str(feast_dir / "registry.db")},
        "online_store": online_store,
        "offline_store": {"type": "dask"},  # point-in-time joins over the parquet sources
        "entity_key_serialization_version": 3,
        "repo_path": feast_dir,
    }


def repo_config(config: FeatureConfig, feast_dir: Path) -> RepoConfig:
    return RepoConfig(**repo_settings(config, feast_dir))


user = Entity(
    name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="A shopper"
)
item = Entity(
    name="item", join_keys=["item_id"], value_type=ValueType.INT64, description="A catalog item"
)
ENTITIES = {entity.name: entity for entity in (user, item)}

# A snapshot holds until the next day's replaces it. An entity left out of the newest snapshot
# (no activity in any window) then gets no features, rather than a stale snapshot's.
SNAPSHOT_TTL = timedelta(days=1)

FEAST_TYPES: dict[pa.DataType, PrimitiveFeastType] = {
    pa.int32(): Int32,
    pa.int64(): Int64,
    pa.float64(): Float64,
    pa.string(): String,
}


def stats_feature_view(view: StatsView, source_path: str, windows: Sequence[int]) -> FeatureView:
    """The Feast view of ``view``'s daily snapshots, read from the folder ``source_path``."""
    entity = ENTITIES[view.entity]
    return FeatureView(
        name=view.name,
        entities=[entity],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name=view.join_key, dtype=Int64),
            *(
                Field(name=name, dtype=FEAST_TYPES[dtype])
                for name, dtype in view.features(windows).items()
            ),
        ],
        source=FileSource(
            name=f"{view.name}_snapshots",
            path=source_path,
            timestamp_field=EVENT_TIMESTAMP,
            description=f"Daily {view.name} snapshots computed by Spark",
        ),
        online=True,
        description=view.description,
        tags={"windows_days": ",".join(map(str, windows))},
    )


def repo_objects(storage: Storage, windows: Sequence[int]) -> list[FeastObject]:
    """Everything ``apply`` registers: the views read the snapshots of these ``windows``."""
    views = [
        stats_feature_view(view, _local_path(storage, view.offline_source(windows)), windows)
        for view in STATS_VIEWS
    ]
    return [user, item, *views]


def open_store(config: FeatureConfig, storage: Storage) -> FeatureStore:
    """The pipeline's Feast store, its registry and SQLite file under ``features/feast/``."""
    feast_dir = Path(_local_path(storage, FEATURES_FEAST))
    feast_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(feast_dir), config=repo_config(config, feast_dir))


def apply_repo(store: FeatureStore, storage: Storage, windows: Sequence[int]) -> None:
    """Register the entities and feature views; a no-op when nothing changed."""
    store.apply(repo_objects(storage, windows))


def materialize(store: FeatureStore, end: datetime) -> None:
    """Load the online store with each entity's newest snapshot valid at ``end``.

    Incremental from the previous run's end, and rerunning the same ``end`` loads its snapshot
    again (with the columns of the window set applied now). A backfill of an earlier day leaves
    the newer values in place.
    """
    for view in store.list_feature_views():
        last_end = view.most_recent_end_time
        if last_end is None:
            # Feast would start a first run at wall-clock now minus the ttl; a backfill or a
            # simulated shop lives elsewhere in time.
            assert view.ttl is not None  # every view of the repo has one
            store.materialize(start_date=end - view.ttl, end_date=end, feature_views=[view.name])
        elif last_end <= end:
            store.materialize_incremental(end_date=end, feature_views=[view.name])
        else:
            log.info(
                "%s: the online store already holds %s, later than %s", view.name, last_end, end
            )


def _local_path(storage: Storage, key: str) -> str:
    # Feast's file offline store (dask) and SQLite need paths on this machine.
    if not isinstance(storage, LocalStorage):
        raise ValueError(
            f"the features stage needs a local storage root for Feast, got {storage.uri('')}"
        )
    return storage.uri(key)
