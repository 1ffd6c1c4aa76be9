"""The Feast feature store: open it under the storage root, apply the repo, materialize."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from components.core.config import FeatureConfig
from components.core.storage import LocalStorage, Storage
from components.features.paths import FEAST, offline_source
from components.features.repo.config import repo_config
from components.features.schema import STATS_VIEWS

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)


def open_store(config: FeatureConfig, storage: Storage) -> FeatureStore:
    """The pipeline's Feast store, its registry and SQLite file under ``features/feast/``."""
    from feast import FeatureStore

    feast_dir = Path(_local_path(storage, FEAST))
    feast_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(feast_dir), config=repo_config(config, feast_dir))


def apply_repo(store: FeatureStore, storage: Storage, windows: Sequence[int]) -> None:
    """Register the entities and feature views; a no-op when nothing changed."""
    from components.features.repo.definitions import repo_objects

    sources = {view.name: _local_path(storage, offline_source(view.name)) for view in STATS_VIEWS}
    store.apply(repo_objects(sources, windows))


def materialize(store: FeatureStore, end: datetime) -> None:
    """Load the online store with each entity's newest snapshot valid at ``end``.

    Incremental from the previous run's end, and rerunning the same ``end`` loads its snapshot
    again. A backfill of an earlier day leaves the newer values in place.
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
