"""``make bench-experiment``: every method from the demo day's SFT run, over seeds, compared.

Runs ``adagrpo experiment`` on the root ``make demo`` leaves (the simulated demo-scale shop, its
ranker and its evaluated SFT run) under ``configs/demo.yaml`` and ``configs/experiment.yaml`` (the
RL budget every method gets), then copies the comparison to
``benchmarks/results/experiment.{json,html}``. A rerun trains nothing that is already trained.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from datetime import date
from pathlib import Path

import yaml

from benchmarks.run import RESULTS, write_result
from components import cli
from components.core import layout
from components.core.config import PipelineConfig, load_config
from components.core.layout import SFT_KEY
from components.core.storage import LocalStorage
from components.experiment.cli import DEFAULT_METHODS
from components.trainer.checkpoints import PolicyRun

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DEMO_DS = date(2026, 11, 14)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("var/demo"), help="make demo's root")
    parser.add_argument("--ds", type=date.fromisoformat, default=DEMO_DS)
    parser.add_argument("--methods", default=DEFAULT_METHODS)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    storage = LocalStorage(args.root.resolve())
    sft = PolicyRun(storage, args.ds, SFT_KEY)
    if not storage.exists(sft.evaluation_summary):
        raise SystemExit(f"no evaluated SFT run of {args.ds} under {args.root}: run `make demo`")
    started = time.perf_counter()
    flags = [word for setting in budget_settings() for word in ("--set", setting)]
    code = cli.main(
        ["experiment", "--root", str(args.root), "--ds", args.ds.isoformat(),
         "--methods", args.methods, "--seeds", str(args.seeds),
         "--config", str(CONFIGS / "demo.yaml"), *flags]
    )  # fmt: skip
    if code:
        return code
    published = layout.partition(layout.COMPARISON, args.ds)
    comparison = storage.read_json(f"{published}/{layout.COMPARISON_FILE}")
    shutil.copyfile(args.root / published / "report.html", RESULTS / "experiment.html")
    path = write_result("experiment", comparison, time.perf_counter() - started)
    print(comparison["answer"]["text"], f"-> {path}")
    return 0


def budget_settings() -> list[str]:
    """``configs/experiment.yaml`` as ``section.key=value`` overrides of the demo config."""
    settings = yaml.safe_load((CONFIGS / "experiment.yaml").read_text())
    return [
        f"{section}.{key}={value}"
        for section, values in settings.items()
        for key, value in values.items()
    ]


def experiment_config(root: Path) -> PipelineConfig:
    """The demo config under the experiment's budget, on ``root``."""
    overrides = [*budget_settings(), f"storage.root={root.resolve()}"]
    return load_config(CONFIGS / "demo.yaml", overrides, environ={})


if __name__ == "__main__":
    raise SystemExit(main())
