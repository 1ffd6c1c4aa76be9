"""Simulator throughput: a full demo run, and a ~10M-event large run with its peak memory.

Each run is a fresh ``adagrpo simulate`` process, so the wall time includes interpreter start-up
and the peak resident memory is that of the simulator (and any processes it starts) alone.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.processes import measured_run
from components.core import partitions
from components.core.layout import RAW_EXPOSURES
from components.core.storage import LocalStorage

REPO = Path(__file__).resolve().parents[1]
LARGE_DAYS = 3  # about 3.4M events a day at large scale: ~10M in all


def run(workdir: Path) -> dict[str, Any]:
    return {
        "demo": measure(workdir / "demo", ["--scale", "demo"]),
        "large_3_days": measure(workdir / "large", ["--scale", "large", "--days", str(LARGE_DAYS)]),
    }


def measure(root: Path, flags: list[str]) -> dict[str, Any]:
    """Run one simulation into ``root`` (removed afterwards) and report its rate and memory."""
    shutil.rmtree(root, ignore_errors=True)
    command = [sys.executable, "-m", "components.cli", "simulate", "--root", str(root), *flags]
    measured = measured_run(command, REPO)
    storage = LocalStorage(root)
    days = storage.list_folders(RAW_EXPOSURES)
    rows = sum(partitions.read_manifest(storage, f"{RAW_EXPOSURES}/{day}")["rows"] for day in days)
    shutil.rmtree(root, ignore_errors=True)
    return {
        "rows": rows,
        "seconds": measured.seconds,
        "rows_per_second": round(rows / measured.seconds),
        "peak_rss_mib": measured.peak_rss_mib,
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(run(Path(scratch)), indent=2))
