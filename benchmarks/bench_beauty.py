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
from components.semantic_ids.store import map_partition

REPLAY_DAYS = 30
DS = load_config(environ={}).simulate.start + timedelta(days=REPLAY_DAYS - 1)  # the last day
REPO = Path(__file__).resolve().parents[1]


def run(workdir: Path, beauty: Path | None) -> dict[str, Any]:
    if beauty is None:
        return {"skipped": "no Beauty data given (make bench BEAUTY=path/to/amazon-beauty)"}
    root = (workdir / "root").resolve()
    seconds = build_training_set(root, beauty)
    storage = LocalStorage(root)
    dataset = partitions.read_manifest(storage, layout.partition(layout.DATASETS, DS))
    sid_report = storage.read_json(f"{map_partition(dataset['sid_version'], DS)}/report.json")
    return {
        "seconds": seconds,
        "examples": dataset["examples"],
        "users": dataset["users"],
        "sid_items": sid_report["items"]["in_map"],
        "collision_rate": sid_report["collision_rate"],
        "max_dedup_index": sid_report["max_dedup_index"],
        "code_utilization": sid_report["utilization"],
    }


def build_training_set(root: Path, beauty: Path, config: Path | None = None) -> dict[str, float]:
    """Replay Beauty into a fresh ``root`` and run it up to the training set of ``DS`` (under
    ``config`` when given); the seconds per stage."""
    if not (beauty / "Beauty.txt").is_file():
        raise FileNotFoundError(
            f"no Beauty.txt under {beauty}: docs/benchmarks.md says where the data comes from"
        )
    shutil.rmtree(root, ignore_errors=True)
    overlay = ("--config", str(config)) if config else ()
    window = ["--ds", DS.isoformat(), "--lookback-days", str(REPLAY_DAYS), *overlay]
    return {
        "replay": timed_stage(root, "replay", "--sequences", str(beauty / "Beauty.txt"),
                         "--items", str(beauty / "item_titles.tsv"), "--days", str(REPLAY_DAYS),
                         *overlay),
        "extract": timed_stage(root, "extract", *window),
        "validate": timed_stage(root, "validate", *window),
        "semantic_ids": timed_stage(root, "semantic-ids", "--ds", DS.isoformat(), *overlay),
        "build_dataset": timed_stage(root, "build-dataset", "--ds", DS.isoformat(), *overlay),
    }  # fmt: skip


def timed_stage(root: Path, stage: str, *flags: str) -> float:
    """Run one ``adagrpo`` stage on ``root``; its seconds."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "components.cli", stage, "--root", str(root), *flags]
    subprocess.run(command, cwd=REPO, check=True)
    return round(time.perf_counter() - started, 1)


if __name__ == "__main__":
    print(json.dumps(run(Path("var/bench/beauty"), Path(sys.argv[1])), indent=2))
