"""The pipeline's Feast feature repository: its store settings, entities and feature views.

Laid out like a Feast repo (what ``feature_store.yaml`` would hold, then the definitions),
except that the feature views are built by a function: their sources live under the run's
storage root and their windows are configured. Last come the stage's three uses of the store:
open it, apply the definitions, load the online store.

The offline sources and the registry live under the storage root (``features/``), a local
folder or S3 alike; Feast reads S3 through boto3 and fsspec, at the endpoint of
``storage.s3_endpoint_url`` when one is set (MinIO-style stores). Feast also needs a folder on
this machine (its repo path): ``features/feast/`` itself on a local root, a cache folder per
root on S3. The SQLite online store lives there, so with an S3 root it is this machine's own;
Redis (``features.online_store``) is the online store that every machine shares.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.feast_object import FeastObject
from feast.types import Float64, Int32, Int64, PrimitiveFeastType, String

from components.core import partitions
from components.core.config import FeatureConfig
from components.core.layout import FEATURES_FEAST, partition
from components.core.progress import Progress
from components.core.storage import S3Storage, Storage
from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS, StatsView, snapshot_time

log = logging.getLogger(__name__)

PROJECT = "adagrpo"
REGISTRY = f"{FEATURES_FEAST}/registry.db"
ONLINE_DB = "online.db"  # the SQLite online store, in the workspace
# Feast's S3 registry takes its endpoint from this variable only.
FEAST_S3_ENDPOINT_VARIABLE = "FEAST_S3_ENDPOINT_URL"


@dataclass(frozen=True)
class FeastPlaces:
    """Where Feast finds its files for one storage root."""

    workspace: Path  # Feast's repo path on this machine, and the SQLite online store
    registry: str  # a path, or an s3:// URL
    s3_endpoint: str | None  # the endpoint of an S3 root, None for AWS itself or a local root

    @classmethod
    def of(cls, storage: Storage) -> FeastPlaces:
        if isinstance(storage, S3Storage):
            digest = hashlib.sha256(storage.root.encode()).hexdigest()[:16]
            workspace = Path(tempfile.gettempdir()) / "adagrpo-feast" / digest
            return cls(workspace, storage.object_url(REGISTRY), storage.endpoint_url)
        return cls(Path(storage.uri(FEATURES_FEAST)), storage.uri(REGISTRY), None)


def source_location(storage: Storage, key: str) -> str:
    """Where Feast's offline store reads the folder ``key``: a path, or an s3:// URL."""
    return storage.object_url(key) if isinstance(storage, S3Storage) else storage.uri(key)


def repo_settings(config: FeatureConfig, places: FeastPlaces) -> dict[str, Any]:
    """The store's settings, in ``feature_store.yaml`` terms."""
    online_store: dict[str, Any] = (
        {"type": "redis", "connection_string": config.redis_connection}
        if config.online_store == "redis"
        else {"type": "sqlite", "path": str(places.workspace / ONLINE_DB)}
    )
    return {
        "project": PROJECT,
        "provider": "local",
        "registry": {"registry_type": "file", "path": places.registry},
        "online_store": online_store,
        "offline_store": {"type": "dask"},  # point-in-time joins over the parquet sources
        "entity_key_serialization_version": 3,
        "repo_path": places.workspace,
    }


def repo_config(config: FeatureConfig, places: FeastPlaces) -> RepoConfig:
    return RepoConfig(**repo_settings(config, places))


user = Entity(
    name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="A shopper"
)
item = Entity(
    name="item", join_keys=["item_id"], value_type=ValueType.INT64, description="A catalog item"
)
ENTITIES = {entity.name: entity for entity in (user, item)}

# A snapshot holds until the next day's replaces it: for one day, less the microsecond at which
# the next one begins (Feast's ttl bound is inclusive). An exposure of day d then sees only the
# snapshot of d - 1, even at midnight, and an entity left out of it (no activity in any window)
# gets no features rather than an older snapshot's.
SNAPSHOT_TTL = timedelta(days=1, microseconds=-1)

FEAST_TYPES: dict[pa.DataType, PrimitiveFeastType] = {
    pa.int32(): Int32,
    pa.int64(): Int64,
    pa.float64(): Float64,
    pa.string(): String,
}


def stats_feature_view(
    view: StatsView, source_path: str, windows: Sequence[int], s3_endpoint: str | None = None
) -> FeatureView:
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
            s3_endpoint_override=s3_endpoint,
            description=f"Daily {view.name} snapshots computed by Spark",
        ),
        online=True,
        description=view.description,
        tags={"windows_days": ",".join(map(str, windows))},
    )


def repo_objects(storage: Storage, windows: Sequence[int]) -> list[FeastObject]:
    """Everything ``apply`` registers: the views read the snapshots of these ``windows``."""
    endpoint = FeastPlaces.of(storage).s3_endpoint
    views = [
        stats_feature_view(
            view, source_location(storage, view.offline_source(windows)), windows, endpoint
        )
        for view in STATS_VIEWS
    ]
    return [user, item, *views]


def open_store(config: FeatureConfig, storage: Storage) -> FeatureStore:
    """The pipeline's Feast store on ``storage`` (see the module docstring for where)."""
    places = FeastPlaces.of(storage)
    places.workspace.mkdir(parents=True, exist_ok=True)
    if places.s3_endpoint:
        os.environ[FEAST_S3_ENDPOINT_VARIABLE] = places.s3_endpoint
    return FeatureStore(repo_path=str(places.workspace), config=repo_config(config, places))


def apply_repo(store: FeatureStore, storage: Storage, windows: Sequence[int]) -> None:
    """Register the entities and feature views; a no-op when nothing changed."""
    store.apply(repo_objects(storage, windows))


def load_online(
    store: FeatureStore, storage: Storage, ds: date, windows: Sequence[int], batch_rows: int
) -> None:
    """Write each view's published snapshot of ``ds`` (one row per entity: its values as of the
    end of ``ds``) into the online store, ``batch_rows`` entities at a time.

    Memory is bounded by the batch, not the day: the snapshot is read a record batch at a time,
    where Feast's ``materialize`` reads the view's whole source. The interval is recorded in
    the registry as ``materialize`` records it. Rerunning ``ds`` writes its snapshot again (with
    the columns of the window set applied now); a backfill of an earlier day leaves the newer
    values in place; an entity the snapshot leaves out keeps what the store held.
    """
    end = snapshot_time(ds)
    for view in STATS_VIEWS:
        feature_view = store.get_feature_view(view.name)
        last_end = feature_view.most_recent_end_time
        if last_end is not None and last_end > end:
            log.info(
                "%s: the online store already holds %s, later than %s", view.name, last_end, end
            )
            continue
        source = partition(view.offline_source(windows), ds)
        manifest = partitions.read_manifest(storage, source)
        progress = Progress(f"online store {view.name}", manifest["rows"], "entities")
        for name in manifest["files"]:
            for batch in storage.iter_parquet(f"{source}/{name}", batch_rows=batch_rows):
                store.write_to_online_store(view.name, batch.to_pandas())
                progress.advance(batch.num_rows)
        progress.finish()
        assert feature_view.ttl is not None  # every view of the repo has one
        store.registry.apply_materialization(
            feature_view, store.project, last_end or end - feature_view.ttl, end
        )
