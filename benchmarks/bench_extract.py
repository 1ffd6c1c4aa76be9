"""Extraction throughput: ~10M raw exposures (3 days of the `large` shop) with local Spark.

The raw input is simulated once into ``workdir`` and reused; the timed part is one
``adagrpo extract`` process (JVM start-up included), as the DAG runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from components.core import layout, partitions
from components.core.config import load_config
from components.core.storage import LocalStorage

DAYS = 3
REPO = Path(__file__).resolve().parents[1]


def run(workdir: Path) -> dict[str, Any]:
    root = workdir / "root"
    start = load_config(environ={}).simulate.start
    ds = start + timedelta(days=DAYS - 1)
    storage = LocalStorage(root)
    raw_days = [layout.partition(layout.RAW_EXPOSURES, day) for day in layout.window(ds, DAYS)]
    if not all(partitions.is_published(storage, key) for key in raw_days):
        _adagrpo("simulate", "--root", str(root), "--scale", "large", "--days", str(DAYS))
    raw_rows = sum(partitions.read_manifest(storage, key)["rows"] for key in raw_days)

    started = time.perf_counter()
    _adagrpo("extract", "--root", str(root), "--ds", ds.isoformat(), "--lookback-days", str(DAYS))
    seconds = time.perf_counter() - started

    curated_rows = sum(
        partitions.read_manifest(storage, layout.partition(layout.CURATED_EXPOSURES, day))["rows"]
        for day in layout.window(ds, DAYS)
    )
    return {
        "raw_rows": raw_rows,
        "curated_rows": curated_rows,
        "seconds": round(seconds, 1),
        "raw_rows_per_second": round(raw_rows / seconds),
        "spark_master": load_config(environ={}).spark.master,
    }


def _adagrpo(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "components.cli", *args], cwd=REPO, check=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run(Path(scratch)), indent=2))
