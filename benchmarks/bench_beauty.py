"""The real Amazon Beauty data through the pipeline: replay -> extract -> validate ->
semantic IDs -> training sets. Reports SID quality and the training examples produced.

Leave-one-out on the 5-core data must give one test and one validation example per user and
131,413 training examples (198,502 - 3 x 22,363), the count of the published protocol.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from components.core import layout, partitions
from components.core.config import load_config
from components.core.storage import LocalStorage

BEAUTY = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-beauty"
REPLAY_DAYS = 30
REPO = Path(__file__).resolve().parents[1]


def run(workdir: Path, beauty: Path = BEAUTY) -> dict[str, Any]:
    if not (beauty / "Beauty.txt").is_file():
        return {"skipped": f"no Beauty data at {beauty}"}
    root = (workdir / "root").resolve()
    shutil.rmtree(root, ignore_errors=True)
    ds = load_config(environ={}).simulate.start + timedelta(days=REPLAY_DAYS - 1)
    window = ["--ds", ds.isoformat(), "--lookback-days", str(REPLAY_DAYS)]
    seconds = {
        "replay": _timed(root, "replay", "--sequences", str(beauty / "Beauty.txt"),
                         "--items", str(beauty / "item_titles.tsv"), "--days", str(REPLAY_DAYS)),
        "extract": _timed(root, "extract", *window),
        "validate": _timed(root, "validate", *window),
        "semantic_ids": _timed(root, "semantic-ids", "--ds", ds.isoformat()),
        "build_dataset": _timed(root, "build-dataset", "--ds", ds.isoformat()),
    }  # fmt: skip
    storage = LocalStorage(root)
    dataset = partitions.read_manifest(storage, layout.partition(layout.DATASETS, ds))
    sid_report = storage.read_json(f"sids/v={dataset['sid_version']}/map/dt={ds}/report.json")
    return {
        "seconds": seconds,
        "examples": dataset["examples"],
        "users": dataset["users"],
        "sid_items": sid_report["items"]["in_map"],
        "collision_rate": sid_report["collision_rate"],
        "max_dedup_index": sid_report["max_dedup_index"],
        "code_utilization": sid_report["utilization"],
    }


def _timed(root: Path, stage: str, *flags: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "components.cli", stage, "--root", str(root), *flags]
    subprocess.run(command, cwd=REPO, check=True)
    return round(time.perf_counter() - started, 1)


if __name__ == "__main__":
    print(json.dumps(run(Path("var/bench/beauty")), indent=2))
