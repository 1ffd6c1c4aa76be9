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
from inspect import signature
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
    "rl_step",
    "ab_power",
    "serving",
    "promotion",
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
    parser.add_argument(
        "--beauty",
        type=existing_folder,
        help="the amazon-beauty folder (docs/benchmarks.md); without it the Beauty parts skip",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in args.only:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        data = {"beauty": args.beauty} if "beauty" in signature(module.run).parameters else {}
        numbers = module.run(args.workdir / name, **data)
        path = write_result(name, numbers, time.perf_counter() - started)
        print(f"{name}: {json.dumps(numbers)}  -> {path}")
    return 0


def existing_folder(value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is not a folder")
    return path


def write_result(name: str, numbers: dict[str, Any], wall_s: float) -> Path:
    """``benchmarks/results/<name>.json``: the numbers with when and where they were measured."""
    result = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 1),
        "machine": machine(),
        "results": numbers,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
