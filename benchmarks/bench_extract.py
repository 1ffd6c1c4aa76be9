"""Extraction throughput: ~10M raw exposures (3 days of the `large` shop) with local Spark.

The timed part is one ``adagrpo extract`` process (JVM start-up included), as the DAG runs it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks import large_shop
from components.core import layout
from components.core.config import load_config


def run(workdir: Path) -> dict[str, Any]:
    large_shop.ensure_raw()
    started = time.perf_counter()
    large_shop.adagrpo("extract", *large_shop.window_flags())
    seconds = time.perf_counter() - started
    raw_rows = large_shop.raw_rows(layout.RAW_EXPOSURES)
    return {
        "raw_rows": raw_rows,
        "curated_rows": large_shop.raw_rows(layout.CURATED_EXPOSURES),
        "seconds": round(seconds, 1),
        "raw_rows_per_second": round(raw_rows / seconds),
        "spark_master": load_config(environ={}).spark.master,
    }


if __name__ == "__main__":
    print(json.dumps(run(Path("var/bench/extract")), indent=2))
