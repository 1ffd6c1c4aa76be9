"""Run the benchmarks and write one JSON result per benchmark to ``benchmarks/results/``.

Numbers are throughputs and ratios measured in one run on this machine; they are reported, not
asserted, because shared machines are noisy.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

BENCHMARKS = (
    "simulate",
    "extract",
    "validate",
    "semantic_ids",
    "datasets",
    "beauty",
    "generation",
)
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        numbers = module.run(args.workdir / name)
        result = {
            "benchmark": name,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - started, 1),
            "machine": machine(),
            "results": numbers,
        }
        path = RESULTS / f"{name}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"{name}: {json.dumps(numbers)}  -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
