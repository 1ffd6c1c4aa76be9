"""The whole DAG of one day of the tiny simulated shop under `airflow dags test` (SQLite
metadata database), as the DAG test and the Kubeflow comparison run it."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DS = date(2026, 11, 3)
LOOKBACK_DAYS = 2
# The settings of the tiny day both orchestrators run: a short RL run, and floors open (the
# tiny shop's policies are weak).
TINY_DAY = {"rl.steps": "12", "rl.checkpoint_every": "6", "promotion.max_hallucination": "1"}
# A bound on a hung run, not a speed target: a busy 2-core machine runs the tiny DAG in minutes.
DAG_TIMEOUT_S = 1800


def run_dag(folder: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """The day under `airflow dags test`, its data root ``folder/root``; ``settings`` by
    dotted name."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(folder / "airflow"),
        "ADAGRPO__STORAGE__ROOT": str(folder / "root"),
        "ADAGRPO__SPARK__MASTER": "local[2]",
        **{f"ADAGRPO__{name.replace('.', '__').upper()}": v for name, v in settings.items()},
    }
    conf = json.dumps({"lookback_days": LOOKBACK_DAYS, "scale": "tiny"})
    return subprocess.run(
        [str(REPO / "scripts" / "run-dag.sh"), DS.isoformat(), conf],
        env=env, capture_output=True, text=True, timeout=DAG_TIMEOUT_S,
    )  # fmt: skip
