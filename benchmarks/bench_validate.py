"""Benchmark: rows per second of the full validation suite on a synthetic curated partition.

The generator here is also what the validate tests corrupt, so the benchmark measures the
same valid data the tests prove passes.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from components.core.config import ValidationConfig
from components.core.layout import CURATED_EXPOSURES, RAW_CATALOG, partition
from components.core.partitions import publish
from components.core.schemas import CATALOG, CURATED_EXPOSURE
from components.core.storage import LocalStorage, Storage

DAY = date(2026, 11, 3)
CATALOG_SIZE = 50_000
_DAY_MICROS = 86_400_000_000


def synthetic_exposures(dt: date, rows: int, item_ids: np.ndarray, seed: int = 0) -> pa.Table:
    """Valid curated exposures of ``dt``; vectorized, so 10M rows take seconds."""
    rng = np.random.default_rng(seed)
    day_start = int(datetime(dt.year, dt.month, dt.day, tzinfo=UTC).timestamp()) * 1_000_000
    event_id = dt.toordinal() * 10**9 + np.arange(rows, dtype=np.int64)  # unique across days
    clicked = rng.random(rows) < 0.15
    columns: dict[str, Any] = {
        "event_id": event_id,
        "request_id": event_id // 10,
        "user_id": rng.integers(1, 100_000, rows),
        "item_id": rng.choice(item_ids, rows),
        "ts": day_start + rng.integers(0, _DAY_MICROS, rows),
        "position": rng.integers(1, 21, rows),
        "surface": rng.choice(np.array(["home", "search", "cart"]), rows),
        "logging_score": rng.random(rows),
        "clicked": clicked,
        "purchased": clicked & (rng.random(rows) < 0.2),
        "dwell_ms": np.where(clicked, rng.integers(0, 120_000, rows), 0),
        "experiment_id": np.full(rows, "exp-1"),
        "arm": rng.choice(np.array(["control", "treatment"]), rows),
        "category": rng.choice(np.array(["beauty", "garden", "toys"]), rows),
        "brand": rng.choice(np.array(["acme", ""]), rows),
        "price": rng.uniform(1, 100, rows).round(2),
        "item_age_days": rng.integers(0, 365, rows),
    }
    return pa.table(
        [pa.array(columns[field.name], field.type) for field in CURATED_EXPOSURE],
        schema=CURATED_EXPOSURE,
    )


def publish_day(storage: Storage, dt: date, exposures: pa.Table, item_ids: np.ndarray) -> None:
    """Commit ``exposures`` as the curated partition of ``dt``, as extract would, with a
    catalog snapshot holding ``item_ids``."""
    _publish(storage, partition(CURATED_EXPOSURES, dt), "part-00000.parquet", exposures, dt)
    catalog = pa.table(
        {
            "item_id": item_ids,
            "title": [f"item {item_id}" for item_id in item_ids],
            "category": np.full(len(item_ids), "beauty"),
            "brand": np.full(len(item_ids), "acme"),
            "price": np.full(len(item_ids), 9.5),
            "created_at": np.full(len(item_ids), datetime(2026, 1, 1, tzinfo=UTC)),
        },
        schema=CATALOG,
    )
    _publish(storage, partition(RAW_CATALOG, dt), "catalog.parquet", catalog, dt)


def _publish(storage: Storage, target: str, name: str, table: pa.Table, dt: date) -> None:
    staging = storage.staging_key("bench-validate")
    storage.write_parquet(f"{staging}/{name}", table)
    manifest = {"rows": table.num_rows, "producer": "extract", "dt": dt.isoformat()}
    publish(storage, staging, target, manifest)


def run(workdir: Path, rows: int = 10_000_000) -> dict[str, Any]:
    """Validate one synthetic partition of ``rows`` rows and time each phase."""
    # Imported here so that the tests that only need the generator do not load GX.
    from components.validate.baseline import VolumeBaseline
    from components.validate.expectations import build_suite
    from components.validate.frame import to_frame
    from components.validate.runner import run_suite
    from components.validate.stage import known_item_ids, load_curated

    storage, config = LocalStorage(workdir), ValidationConfig()
    item_ids = np.arange(1, CATALOG_SIZE + 1, dtype=np.int64)
    publish_day(storage, DAY, synthetic_exposures(DAY, rows, item_ids), item_ids)
    # Three validated trailing days of the same size, so the volume check runs as well.
    history = VolumeBaseline(
        config.volume_trailing_days, {DAY - timedelta(days=d): rows for d in (1, 2, 3)}
    )

    started = time.perf_counter()
    table = load_curated(storage, DAY)[1]
    read = time.perf_counter()
    frame = to_frame(table)
    converted = time.perf_counter()
    suite = build_suite(DAY, config, known_item_ids(storage, DAY), rows, history)
    outcomes = run_suite(frame, suite.suite)
    finished = time.perf_counter()

    failed = [outcome.summary() for outcome in outcomes if outcome.counts_as_failure]
    if failed:
        raise AssertionError(f"the synthetic partition should pass: {failed}")
    total = finished - started
    return {
        "benchmark": "validate",
        "rows": rows,
        "expectations": len(outcomes),
        "read_parquet_s": round(read - started, 2),
        "to_pandas_s": round(converted - read, 2),
        "suite_s": round(finished - converted, 2),
        "total_s": round(total, 2),
        "rows_per_s": round(rows / total),
        "suite_rows_per_s": round(rows / (finished - converted)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        print(json.dumps(run(Path(tmp), size), indent=2))
