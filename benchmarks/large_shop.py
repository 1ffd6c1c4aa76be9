"""The shared input of the 10M-exposure benchmarks: three days of the `large` simulated shop.

Simulated once into ``var/bench/large-shop`` and reused by every benchmark that needs it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from components.core import layout, partitions
from components.core.config import load_config
from components.core.storage import LocalStorage

DAYS = 3
REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "var" / "bench" / "large-shop"


def last_day() -> date:
    return load_config(environ={}).simulate.start + timedelta(days=DAYS - 1)


def ensure_stage(stage: str, dataset: str, *flags: str) -> None:
    """Run ``stage`` for the window unless every day of ``dataset`` is already published."""
    storage = LocalStorage(ROOT)
    days = layout.window(last_day(), DAYS)
    if not all(partitions.is_published(storage, layout.partition(dataset, d)) for d in days):
        adagrpo(stage, *flags)


def raw_rows(dataset: str) -> int:
    storage = LocalStorage(ROOT)
    return sum(
        partitions.read_manifest(storage, layout.partition(dataset, day))["rows"]
        for day in layout.window(last_day(), DAYS)
    )


def adagrpo(stage: str, *flags: str) -> None:
    command = [sys.executable, "-m", "components.cli", stage, "--root", str(ROOT), *flags]
    subprocess.run(command, cwd=REPO, check=True)


def window_flags() -> tuple[str, ...]:
    return ("--ds", last_day().isoformat(), "--lookback-days", str(DAYS))


def ensure_raw() -> None:
    ensure_stage("simulate", layout.RAW_EXPOSURES, "--scale", "large", "--days", str(DAYS))
