"""The compose run against the embedded one: `make demo` and `make compose-demo OFFLINE=1` timed
side by side on this machine (the same DAG, day and Params), with the images' sizes and the
time a warm offline build takes. Writes ``benchmarks/results/compose.json``.

    python -m benchmarks.compose            (make bench-compose; about 40 minutes on 2 cores)
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.run import RESULTS, machine

REPO = Path(__file__).resolve().parents[1]
IMAGES = ("adagrpo/pipeline:local", "adagrpo/trainer:local", "adagrpo/airflow:local")
STACK = ["docker", "compose", "-f", "docker-compose.yml", "-f", "docker/offline/compose.yml"]


def timed(command: list[str]) -> float:
    """Wall seconds of ``command``, which must succeed."""
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    return round(time.perf_counter() - started, 1)


def image_size_gb(image: str) -> float:
    size = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", image],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return round(int(size) / 1e9, 2)


def main() -> int:
    subprocess.run([*STACK, "down", "--volumes"], cwd=REPO, check=False)
    unchanged_build_s = timed(["docker/offline/build.sh"])  # images there: nothing to rebuild
    demo_s = timed(["make", "demo"])
    compose_s = timed(["make", "compose-demo", "OFFLINE=1"])  # builds nothing new: timed above
    subprocess.run([*STACK, "down", "--volumes"], cwd=REPO, check=True)
    result: dict[str, Any] = {
        "benchmark": "compose",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "make_demo_s": demo_s,
        "make_compose_demo_s": compose_s,
        "compose_over_demo": round(compose_s / demo_s, 2),
        "offline_build_unchanged_s": unchanged_build_s,
        "image_size_gb": {image: image_size_gb(image) for image in IMAGES},
    }
    (RESULTS / "compose.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
