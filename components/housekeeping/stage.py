"""The gc command: sweep the storage root of the configuration."""

from __future__ import annotations

import logging

from components.core import leftovers
from components.core.config import PipelineConfig
from components.core.storage import open_storage

log = logging.getLogger(__name__)


def collect_garbage(config: PipelineConfig, max_age_s: float) -> dict[str, list[str]]:
    """Remove the leftovers under ``config.storage.root``; what was removed, by kind."""
    storage = open_storage(config.storage)
    removed = leftovers.collect_garbage(storage, max_age_s).to_json()
    log.info(
        "removed from %s: %s",
        storage.uri(""),
        ", ".join(f"{len(keys)} {kind.replace('_', ' ')}" for kind, keys in removed.items()),
    )
    return removed
