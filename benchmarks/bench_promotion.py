"""Wall time of select -> bless -> register on the demo day (``make demo`` first), each stage as
the DAG runs it (a process of its own), into a fresh registry: the first blessed model becomes
the champion, so bless scores the candidate alone; a second pass blesses against that champion
(two models scored) and registers nothing new."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.experiment import DEMO_DS
from components.core.layout import MODELS_POLICY, partition

REPO = Path(__file__).resolve().parents[1]
DEMO_ROOT = REPO / "var" / "demo"


def run(workdir: Path) -> dict[str, Any]:
    if not (DEMO_ROOT / partition(MODELS_POLICY, DEMO_DS)).is_dir():
        return {"skipped": f"no demo run under {DEMO_ROOT}: run `make demo` first"}
    registry = (workdir / "registry").resolve()
    shutil.rmtree(registry, ignore_errors=True)
    env = {**os.environ, "ADAGRPO__REGISTRY__ROOT": str(registry)}
    passes = []
    for _ in range(2):
        seconds = {}
        for stage in ("select", "bless", "register"):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "components.cli", stage, "--root", str(DEMO_ROOT),
                 "--ds", DEMO_DS.isoformat(), "--config", str(REPO / "configs" / "demo.yaml")],
                cwd=REPO, env=env, check=True, capture_output=True,
            )  # fmt: skip
            seconds[stage] = round(time.perf_counter() - started, 1)
        passes.append({**seconds, "total": round(sum(seconds.values()), 1)})
    return {"first_pass_no_champion": passes[0], "second_pass_against_the_champion": passes[1]}
