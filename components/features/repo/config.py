"""The Feast store configuration: what a ``feature_store.yaml`` of this pipeline would hold.

The registry and the SQLite online store live next to the offline sources under the storage
root (``features/feast/``); Redis replaces SQLite when ``features.online_store`` says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.core.config import FeatureConfig

if TYPE_CHECKING:
    from feast import RepoConfig

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
    from feast import RepoConfig

    return RepoConfig(**repo_settings(config, feast_dir))
