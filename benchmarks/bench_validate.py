"""Benchmark: rows per second and peak memory of the full validation suite on a synthetic
curated partition, on pandas and on Spark.

The generator here is also what the validate tests corrupt, so the benchmark measures the
same valid data the tests prove passes.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.processes import measured_run
from components.core.config import load_config
from components.core.layout import CURATED_EXPOSURES, RAW_CATALOG, partition
from components.core.partitions import publish
from components.core.schemas import CATALOG, CURATED_EXPOSURE
from components.core.storage import LocalStorage, Storage

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 3)
ENGINES = ("pandas", "spark")
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
    """Validate one synthetic partition of ``rows`` rows on each engine, each in a process of
    its own (its peak memory is its own, the JVM's included), and time each phase."""
    storage = LocalStorage(workdir)
    item_ids = np.arange(1, CATALOG_SIZE + 1, dtype=np.int64)
    publish_day(storage, DAY, synthetic_exposures(DAY, rows, item_ids), item_ids)
    engines = {}
    for engine in ENGINES:
        command = [sys.executable, "-m", "benchmarks.bench_validate", str(workdir), engine]
        measured = measured_run(command, REPO)
        phases = json.loads(measured.stdout)
        engines[engine] = {
            **phases,
            "process_s": measured.seconds,
            "rows_per_s": round(rows / phases["total_s"]),
            "peak_rss_mib": measured.peak_rss_mib,
        }
    return {"benchmark": "validate", "rows": rows, "engines": engines}


def validate_once(workdir: Path, engine_name: str) -> dict[str, Any]:
    """Validate the partition at ``workdir`` on one engine, in this process; its phases."""
    # Imported here so that the tests that only need the generator do not load GX.
    from components.validate.baseline import VolumeBaseline
    from components.validate.engines import open_engine
    from components.validate.expectations import build_suite
    from components.validate.runner import run_suite
    from components.validate.stage import known_item_ids

    storage = LocalStorage(workdir)
    config = load_config(overrides=[f"validation.engine={engine_name}"], environ={})
    started = time.perf_counter()
    engine = open_engine(config, DAY)
    ready = time.perf_counter()
    _, frame, rows = engine.load(storage, DAY)
    loaded = time.perf_counter()
    # Three validated trailing days of the same size, so the volume check runs as well.
    history = VolumeBaseline(
        config.validation.volume_trailing_days, {DAY - timedelta(days=d): rows for d in (1, 2, 3)}
    )
    suite = build_suite(
        DAY, config.validation, known_item_ids(storage, DAY), rows, history, engine.type_name
    )
    outcomes = run_suite(frame, suite.suite)
    finished = time.perf_counter()
    failed = [outcome.summary() for outcome in outcomes if outcome.counts_as_failure]
    if failed:
        raise AssertionError(f"the synthetic partition should pass on {engine_name}: {failed}")
    return {
        "expectations": len(outcomes),
        "engine_start_s": round(ready - started, 2),
        "load_s": round(loaded - ready, 2),  # pandas: read and convert; Spark: plan and count
        "suite_s": round(finished - loaded, 2),
        "total_s": round(finished - ready, 2),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3:  # one engine on a published partition, for run()
        print(json.dumps(validate_once(Path(sys.argv[1]), sys.argv[2])))
    else:
        size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
        with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
            print(json.dumps(run(Path(tmp), size), indent=2))
