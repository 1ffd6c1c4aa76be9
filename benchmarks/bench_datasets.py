"""Dataset build throughput on ~10M curated exposures (3 days of the `large` shop).

The SID map is synthetic (random unique codes for every catalog item): embedding the 100k+
titles would take minutes and is measured by the semantic-IDs benchmark instead.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import large_shop
from components.core import layout, partitions
from components.core.storage import LocalStorage
from components.semantic_ids import store
from components.semantic_ids.sidmap import fresh_table

CODES_PER_LEVEL = 256
LEVELS = 3


def run(workdir: Path) -> dict[str, Any]:
    large_shop.ensure_raw()
    large_shop.ensure_stage("extract", layout.CURATED_EXPOSURES, *large_shop.window_flags())
    large_shop.ensure_stage("validate", layout.QUALITY_EXPOSURES, *large_shop.window_flags())
    ds = large_shop.last_day()
    storage = LocalStorage(large_shop.ROOT)
    publish_synthetic_sid_map(storage, ds)

    started = time.perf_counter()
    large_shop.adagrpo("build-dataset", "--ds", ds.isoformat())
    seconds = time.perf_counter() - started
    manifest = partitions.read_manifest(storage, layout.partition(layout.DATASETS, ds))
    exposures = large_shop.raw_rows(layout.CURATED_EXPOSURES)
    return {
        "curated_exposures": exposures,
        "examples": manifest["examples"],
        "users": manifest["users"],
        "seconds": round(seconds, 1),
        "exposures_per_second": round(exposures / seconds),
    }


def publish_synthetic_sid_map(storage: LocalStorage, ds: date) -> None:
    """Random codes for every item of the catalog of ``ds``, published as SID version 1."""
    catalog = storage.read_parquet(layout.partition(layout.RAW_CATALOG, ds), columns=["item_id"])
    item_ids = np.sort(catalog.column("item_id").to_numpy())
    codes = np.random.default_rng(0).integers(0, CODES_PER_LEVEL, (len(item_ids), LEVELS))
    manifest = {"codes_per_level": CODES_PER_LEVEL, "dedup_vocab": CODES_PER_LEVEL}
    table = fresh_table(item_ids, codes.astype(np.int32), ds, CODES_PER_LEVEL)
    store.publish_map(storage, 1, ds, table, manifest, attachments={})
    store.write_current(storage, store.CurrentVersion(1, ds))


if __name__ == "__main__":
    print(json.dumps(run(Path("var/bench/datasets")), indent=2))
