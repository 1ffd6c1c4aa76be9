"""`make bench-scale`: one day of the data plane at 10M, 30M and 100M exposures on this machine.

For each size a fresh root holds two simulated days of the `xlarge` shop with as many users as
the size needs (ten exposures a request, one request a user). The first day is extracted and
validated unmeasured (its time is kept as ``history_s``): the history that the second day's
features join. Then extract, validate, features (snapshots, Feast's online store, the ranker
rows joined with the first day's snapshots) and build-dataset (both days) run for the second
day, each as its own process, measured for wall time and the peak resident memory of its
whole process tree (Spark's JVM included). The growth exponent of a stage is the slope of
log(seconds) over log(exposures) across the sizes measured: 1 is linear. The SID map is
synthetic (bench_datasets). Results are written after every size, so a long run keeps what it
measured. ``--online-store redis`` loads Feast's online store into a Redis server started for
the run (``scale-redis.json``) instead of the SQLite file of the embedded defaults.

    python -m benchmarks.scale [--sizes 10M 30M 100M] [--online-store sqlite|redis]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_datasets import publish_synthetic_sid_map
from benchmarks.processes import Measured, measured_run
from benchmarks.run import write_result
from components.core import layout, partitions
from components.core.config import load_config
from components.core.storage import LocalStorage
from components.simulate.logging_policy import PolicyParams
from components.simulate.scales import SCALES
from tests.redis_server import redis_server

log = logging.getLogger("bench-scale")
REPO = Path(__file__).resolve().parents[1]
WORKDIR = REPO / "var" / "bench" / "scale"
SIZES = {"10M": 10_000_000, "30M": 30_000_000, "100M": 100_000_000}
STAGES = ("extract", "validate", "features", "build-dataset")
SCALE = SCALES["xlarge"]
ROWS_PER_SHUFFLE_PARTITION = 2_500_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--online-store", choices=["sqlite", "redis"], default="sqlite")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    measured: dict[str, Any] = {}
    name = "scale" if args.online_store == "sqlite" else f"scale-{args.online_store}"
    for size in args.sizes:
        log.info("%s exposures: simulating, then %s", size, ", ".join(STAGES))
        with online_store(args.online_store) as store_settings:
            measured[size] = one_day(WORKDIR / size, SIZES[size], store_settings)
        result = {
            "online_store": args.online_store,
            "sizes": measured,
            "growth_exponent": growth_exponents(measured),
        }
        write_result(name, result, time.perf_counter() - started)
        log.info("%s: %s", size, measured[size]["stages"])
    return 0


@contextlib.contextmanager
def online_store(kind: str) -> Iterator[list[str]]:
    """The settings of Feast's online store: SQLite's embedded defaults (a file in the size's
    fresh root), or a fresh Redis server: a store that already held the entities would skip
    writes no newer than what it holds."""
    if kind == "sqlite":
        yield []
        return
    with redis_server() as connection:
        yield ["--set", "features.online_store=redis",
               "--set", f"features.redis_connection={connection}"]  # fmt: skip


def one_day(root: Path, exposures: int, store_settings: list[str]) -> dict[str, Any]:
    """Simulate two days of about ``exposures`` each into a fresh ``root``; run the stages on the
    second, the online store set by ``store_settings``."""
    shutil.rmtree(root, ignore_errors=True)
    first = load_config(environ={}).simulate.start
    day = first + timedelta(days=1)
    users = round(exposures / (PolicyParams().slate_size * SCALE.requests_per_user_day))
    world = ["--scale", SCALE.name, "--users", str(users), "--days", "2"]
    simulated = run_stage(root, "simulate", *world)
    storage = LocalStorage(root)
    publish_synthetic_sid_map(storage, day)
    partitions_per_day = max(4, exposures // ROWS_PER_SHUFFLE_PARTITION)
    settings = [
        *("--set", f"spark.shuffle_partitions={partitions_per_day}"),
        *("--set", "features.training_days=1"),
    ]
    history = ["--ds", first.isoformat(), "--lookback-days", "1", *settings]
    history_runs = [run_stage(root, stage, *history) for stage in ("extract", "validate")]
    window = ["--ds", day.isoformat(), "--lookback-days", "1"]
    stages = {
        "extract": run_stage(root, "extract", *window, *settings),
        "validate": run_stage(root, "validate", *window, *settings),
        "features": run_stage(
            root, "features", "--ds", day.isoformat(), *settings, *store_settings
        ),
        "build-dataset": run_stage(root, "build-dataset", "--ds", day.isoformat(), *settings),
    }
    rows = {
        "raw": _rows(storage, layout.partition(layout.RAW_EXPOSURES, day)),
        "curated": _rows(storage, layout.partition(layout.CURATED_EXPOSURES, day)),
        "ranker_rows": _rows(storage, layout.partition(layout.RANKER_ROWS, day)),
    }
    examples = partitions.read_manifest(storage, layout.partition(layout.DATASETS, day))
    shutil.rmtree(root, ignore_errors=True)
    return {
        "users": users,
        "rows": rows,
        "examples": examples["examples"],
        "spark_shuffle_partitions": partitions_per_day,
        "simulate": _numbers(simulated, 2 * rows["raw"]),  # both days, about
        "history_s": round(sum(run.seconds for run in history_runs), 1),
        "stages": {stage: _numbers(run, rows["curated"]) for stage, run in stages.items()},
        "all_stages_s": round(sum(run.seconds for run in stages.values()), 1),
        "peak_rss_mib": max(run.peak_rss_mib for run in stages.values()),
    }


def run_stage(root: Path, stage: str, *flags: str) -> Measured:
    command = [sys.executable, "-m", "components.cli", stage, "--root", str(root), *flags]
    return measured_run(command, REPO)


def growth_exponents(measured: dict[str, Any]) -> dict[str, float | None]:
    """Per stage: the slope of log(seconds) over log(curated rows); None with one size."""
    sizes = list(measured.values())
    if len(sizes) < 2:
        return dict.fromkeys(STAGES)
    rows = np.log([size["rows"]["curated"] for size in sizes])
    exponents: dict[str, float | None] = {}
    for stage in STAGES:
        seconds = np.log([size["stages"][stage]["seconds"] for size in sizes])
        exponents[stage] = round(float(np.polyfit(rows, seconds, 1)[0]), 2)
    return exponents


def _numbers(run: Measured, rows: int) -> dict[str, Any]:
    return {
        "seconds": run.seconds,
        "rows_per_s": round(rows / run.seconds),
        "peak_rss_mib": run.peak_rss_mib,
    }


def _rows(storage: LocalStorage, target: str) -> int:
    return int(partitions.read_manifest(storage, target)["rows"])


if __name__ == "__main__":
    raise SystemExit(main())
