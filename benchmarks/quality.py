"""``make bench-quality``: the SFT policy and AdaGRPO on Amazon Beauty under the TIGER protocol.

Beauty goes through the pipeline (replay -> extract -> validate -> semantic IDs from item titles
-> leave-one-out training set with the last 20 items of history), then ``adagrpo train`` and
``adagrpo evaluate``, every stage under ``configs/beauty-quality.yaml``: full ranking by beam
search over every SID. The checkpoint is chosen on validation only; its test metrics are set
against TIGER's published ones (Recall@10 equals HR@10 with one held-out item per user), and next
to a non-neural item-transition reference on the same splits (``benchmarks/baselines.py``).

The RL stage then trains the reward model on the replayed logs (Feast features, the ranker) and,
from the SFT run's best checkpoint, three runs with the same RL budget (``rl.*`` of the config):
SFT continued (the control), the fixed NLL-GRPO mixture and AdaGRPO. Each is evaluated like the
SFT run and reported at its checkpoint chosen on validation.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.baselines import item_transitions
from benchmarks.bench_beauty import DS, build_training_set, timed_stage
from benchmarks.run import RESULTS, write_result
from components.core import layout, partitions
from components.core.config import load_config
from components.core.layout import SFT_KEY
from components.core.storage import LocalStorage
from components.datasets.reader import open_dataset
from components.ranker.artifacts import ranker_partition
from components.trainer.checkpoints import PolicyRun

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "beauty-quality.yaml"
TIGER = {"hr@10": 0.0648, "ndcg@10": 0.0384, "hr@5": 0.0454, "ndcg@5": 0.0321}
BAR = ("hr@10", "ndcg@10")  # what the issue asks to reach, on test, constrained decoding
# The fixed mixture's lambda: the mixture best on validation in the simulated shop's experiment
# (benchmarks/results/experiment.json); a sweep on Beauty would cost 45 minutes a value.
MIX_LAMBDA = 0.1
TABLE = ("hr@5", "ndcg@5", "hr@10", "ndcg@10")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the amazon-beauty folder (docs/benchmarks.md)")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench/quality"))
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument(
        "--reuse-dataset", action="store_true", help="keep a training set already built there"
    )
    parser.add_argument("--mix-lambda", type=float, default=MIX_LAMBDA, help="the mixture's lambda")
    parser.add_argument("--sft-only", action="store_true", help="skip the RL stage")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    root = (args.workdir / "root").resolve()
    storage = LocalStorage(root)
    seconds: dict[str, float] = {}
    dataset = layout.partition(layout.DATASETS, DS)
    if not (args.reuse_dataset and partitions.is_published(storage, dataset)):
        seconds = build_training_set(root, args.data, args.config)
    flags = ("--ds", DS.isoformat(), "--config", str(args.config))
    seconds["train_command"] = timed_stage(root, "train", *flags)
    seconds["evaluate"] = timed_stage(root, "evaluate", *flags)

    run = PolicyRun(storage, DS, SFT_KEY)
    summary = storage.read_json(run.evaluation_summary)
    shutil.copyfile(root / run.evaluation / "report.html", RESULTS / "quality.html")
    result = _result(summary, run.manifest(), seconds)
    result["item_transitions_baseline"] = _transitions_baseline(storage)
    if not args.sft_only:
        result["rl"] = _reinforced(root, flags, args.config, args.mix_lambda, summary["best"])
        seconds.update(result["rl"].pop("seconds"))
    path = write_result("quality", result, time.perf_counter() - started)
    best = result["best_test"]["constrained"]
    print(f"test, constrained: HR@10 {best['hr@10']:.4f}, NDCG@10 {best['ndcg@10']:.4f} "
          f"(TIGER {TIGER['hr@10']}, {TIGER['ndcg@10']}); meets the bar: {result['meets_bar']}"
          f" -> {path}")  # fmt: skip
    for row in result.get("rl", {}).get("table", []):
        print("  ", "  ".join(f"{name} {value}" for name, value in row.items()))
    return 0


def _reinforced(
    root: Path, flags: tuple[str, ...], config: Path, mix_lambda: float, sft: dict[str, Any]
) -> dict[str, Any]:
    """The RL stage: the ranker, then continued SFT, the mixture and AdaGRPO from the SFT run."""
    seconds = {stage: timed_stage(root, stage, *flags) for stage in ("features", "train-ranker")}
    budget = load_config(config, environ={}).rl
    adagrpo_lambda = budget.grpo_weight
    storage = LocalStorage(root)
    runs: dict[str, dict[str, Any]] = {}
    for method, weight in (("nll", 0.0), ("mix", mix_lambda), ("adagrpo", adagrpo_lambda)):
        recipe = budget.model_copy(update={"grpo_weight": weight})
        key = layout.run_key(method, recipe, seed=0, from_init=True)
        knobs = ("--set", f"rl.grpo_weight={weight}") if weight else ()
        seconds[f"train {key}"] = timed_stage(
            root, "train", *flags, "--method", method, "--init", SFT_KEY, *knobs
        )
        seconds[f"evaluate {key}"] = timed_stage(root, "evaluate", *flags, "--run", key)
        run = PolicyRun(storage, DS, key)
        best = storage.read_json(run.evaluation_summary)["best"]
        runs[key] = {"best_step": best["step"], "valid": best["valid"], "test": best["test"],
                     "train_seconds": run.manifest()["seconds_this_attempt"]}  # fmt: skip
    adagrpo = runs[layout.run_key("adagrpo", budget, seed=0, from_init=True)]["test"]
    return {
        "budget": budget.model_dump(mode="json"),
        "reward": storage.read_json(f"{ranker_partition(DS)}/metrics.json")["evaluation"],
        "runs": runs,
        "table": [_row(SFT_KEY, sft["test"]), *(_row(k, r["test"]) for k, r in runs.items())],
        "adagrpo_above_sft": _above(adagrpo, sft["test"]),
        "seconds": seconds,
    }


def _row(name: str, test: dict[str, Any]) -> dict[str, Any]:
    """Test metrics of a checkpoint: constrained decoding, and unconstrained hallucination."""
    constrained = test["constrained"]
    return {"run": name, **{m: round(constrained[m], 4) for m in TABLE},
            "hallucination": round(test["unconstrained"]["hallucination_rate"], 4)}  # fmt: skip


def _above(ours: dict[str, Any], sft: dict[str, Any]) -> bool:
    """The issue's goal: above SFT on both HR@10 and NDCG@10 at no more hallucination."""
    higher = all(ours["constrained"][m] > sft["constrained"][m] for m in BAR)
    unconstrained = ours["unconstrained"]["hallucination_rate"]
    return higher and unconstrained <= sft["unconstrained"]["hallucination_rate"]


def _result(summary: dict[str, Any], run: dict[str, Any], seconds: dict[str, float]) -> dict:
    best = summary["best"]
    constrained = best["test"]["constrained"]
    return {
        "protocol": "leave-one-out, last 20 items of history, SIDs from titles, full ranking",
        "selected_on": summary["selected_on"],
        "best_step": best["step"],
        "best_epoch": best["epoch"],
        "best_valid": best["valid"],
        "best_test": best["test"],
        "tiger": TIGER,
        "meets_bar": all(constrained[name] >= TIGER[name] for name in BAR),
        "unconstrained_hallucination_rate": best["test"]["unconstrained"]["hallucination_rate"],
        "learning_curve": [
            {
                "step": c["step"],
                "epoch": c["epoch"],
                "train_loss": c["train_loss"],
                "valid_ndcg@10": c["valid"]["constrained"]["ndcg@10"],
                "test_hr@10": c["test"]["constrained"]["hr@10"],
                "test_ndcg@10": c["test"]["constrained"]["ndcg@10"],
            }
            for c in summary["checkpoints"]
        ],
        "seconds": seconds,
        "train": {
            k: run[k]
            for k in ("final_step", "parameters", "device", "workers", "seconds_this_attempt")
        },
        "hardware": _hardware(),
    }


def _transitions_baseline(storage: LocalStorage) -> dict[str, dict[str, float]]:
    """The non-neural reference point (benchmarks/baselines.py) on validation and test."""
    dataset = open_dataset(storage, DS)
    train = dataset.split("train")
    return {name: item_transitions(train, dataset.split(name)) for name in ("valid", "test")}


def _hardware() -> dict[str, Any]:
    if torch.cuda.is_available():
        return {"device": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count()}
    return {"device": "cpu", "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


if __name__ == "__main__":
    raise SystemExit(main())
