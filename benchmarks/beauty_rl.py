"""``make bench-beauty-rl BEAUTY=DIR``: reward-guided training on Amazon Beauty under a logging
policy that shows plausible items, against continued NLL and the SFT start.

The replay's popularity filler lets the ranker learn only "bought against popular filler". Here
Beauty is replayed twice into the root ``make bench-quality`` uses (the same real interactions,
so the same training set and SFT run): with the popularity filler and with the co-occurrence
policy (``replay --logging-policy co-occurrence``: what a production recommender would show,
learned from the days before). For each replay: the ranker's AUC on its last day and its
pairwise accuracy between the ground truth and the SFT policy's rollouts (how often it scores
the truth above them, on validation users).

Then, on the co-occurrence replay, with the recipe chosen on the simulated shop
(``configs/beauty-quality.yaml``'s ``rl``): continued NLL, the mixture best on the shop's
validation and AdaGRPO from the best SFT checkpoint, each evaluated on every user and taken at
its checkpoint chosen on validation, and paired bootstrap intervals over the test users for
HR@1/5/10 and NDCG@10 against SFT and against continued NLL. Results:
``benchmarks/results/beauty_rl.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_beauty import DS, REPLAY_DAYS, build_training_set, timed_stage
from benchmarks.quality import CONFIG
from benchmarks.run import RESULTS, write_result
from components.analysis.stage import explore_validation, pooled_discriminability
from components.blessing.bootstrap import paired_bootstrap
from components.core import layout
from components.core.config import PipelineConfig, load_config
from components.core.layout import run_key
from components.core.storage import LocalStorage
from components.datasets.reader import open_dataset
from components.evaluate.decode import rank_items
from components.evaluate.metrics import per_user
from components.evaluate.streamed import StreamedSplit
from components.policy.trie import SidTrie
from components.ranker.artifacts import ranker_partition
from components.trainer.checkpoints import PolicyRun, StartingPoint

log = logging.getLogger("adagrpo.beauty_rl")
POLICIES = ("popularity", "co-occurrence")
DISCRIMINATION_USERS = 4_000  # validation users whose SFT rollouts the ranker is judged on
METRICS = (("hr", 1), ("hr", 5), ("hr", 10), ("ndcg", 10))
BOOTSTRAP_SAMPLES = 2_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the amazon-beauty folder (docs/benchmarks.md)")
    parser.add_argument("--workdir", type=Path, default=Path("var/bench/quality"))
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument(
        "--mix-lambda", type=float, help="the mixture's lambda (default: the shop's best mixture)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every stage run here, e.g. --set train.epochs=20 (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    root = (args.workdir / "root").resolve()
    storage = LocalStorage(root)
    overlay = (str(args.config), *(f"--set={knob}" for knob in args.overrides))
    flags = ("--ds", DS.isoformat(), "--config", *overlay)
    seconds: dict[str, float] = {}
    sft = PolicyRun(storage, DS, layout.SFT_KEY)
    if not storage.exists(sft.evaluation_summary):
        seconds.update(build_training_set(root, args.data, args.config))
        seconds["train sft"] = timed_stage(root, "train", *flags)
        seconds["evaluate sft"] = timed_stage(root, "evaluate", *flags)
    config = load_config(args.config, [*args.overrides, f"storage.root={root}"], environ={})
    rankers = {}
    for policy in POLICIES:
        seconds.update(_replayed(root, args.data, overlay, policy))
        rankers[policy] = _ranker(config, storage)
    mix_lambda = args.mix_lambda if args.mix_lambda is not None else _shop_best_mixture()
    runs = {
        name: _trained(root, args.config, args.overrides, method, weight, seconds)
        for name, (method, weight) in {
            "nll": ("nll", None),
            f"mix:{mix_lambda:g}": ("mix", mix_lambda),
            "adagrpo": ("adagrpo", None),
        }.items()
    }
    scores = _per_user(config, storage, {"sft": layout.SFT_KEY, **runs})
    result = {
        "ds": DS.isoformat(),
        "overrides": args.overrides,
        "recipe": config.rl.model_dump(mode="json"),
        "rankers": rankers,
        "runs": {name: _summary(storage, key) for name, key in runs.items()},
        "sft": _summary(storage, layout.SFT_KEY),
        "intervals": _intervals(scores),
        "seconds": seconds,
    }
    path = write_result("beauty_rl", result, time.perf_counter() - started)
    print(f"beauty_rl -> {path}")
    return 0


def _replayed(root: Path, data: Path, config: tuple[str, ...], policy: str) -> dict[str, float]:
    """Beauty replayed with ``policy`` and taken through the pipeline to the day's ranker; the
    training set and the SFT run stay what they were (the same real interactions). ``config``:
    the config file and its ``--set`` flags."""
    overlay = ("--config", *config)
    window = ("--ds", DS.isoformat(), "--lookback-days", str(REPLAY_DAYS), *overlay)
    day = ("--ds", DS.isoformat(), *overlay)
    replay = (
        "--sequences", str(data / "Beauty.txt"), "--items", str(data / "item_titles.tsv"),
        "--days", str(REPLAY_DAYS), "--logging-policy", policy, *overlay,
    )  # fmt: skip
    seconds = {f"replay {policy}": timed_stage(root, "replay", *replay)}
    for stage, flags in (
        ("extract", window), ("validate", window), ("semantic-ids", day),
        ("build-dataset", day), ("features", day), ("train-ranker", day),
    ):  # fmt: skip
        seconds[f"{stage} {policy}"] = timed_stage(root, stage, *flags)
    return seconds


def _ranker(config: PipelineConfig, storage: LocalStorage) -> dict[str, Any]:
    """The day's ranker: its evaluation on the last day, and how often it scores the ground
    truth above the SFT policy's rollouts on validation users."""
    dataset = open_dataset(storage, DS)
    sft = StartingPoint.best_of(PolicyRun(storage, DS, layout.SFT_KEY))
    split, outcomes = explore_validation(config, storage, dataset, sft, DISCRIMINATION_USERS)
    evaluation = storage.read_json(f"{ranker_partition(DS)}/metrics.json")["evaluation"]
    return {
        "auc": evaluation["auc"],
        "log_loss": evaluation["log_loss"],
        "pairwise_accuracy_against_rollouts": pooled_discriminability(outcomes, split.targets),
        "rollout_reward_mean": float(np.mean([o.scored.rewards.mean() for o in outcomes])),
    }


def _shop_best_mixture() -> float:
    """The lambda of the mixture best on the simulated shop's validation (bench-regimes)."""
    regimes = RESULTS / "regimes.json"
    if not regimes.is_file():
        raise SystemExit("run make bench-regimes first, or give --mix-lambda")
    levels = json.loads(regimes.read_text())["results"]["levels"]
    production = next(level for level in levels if level["level"] == "production")
    mixes = [v for v in production["variants"] if v["variant"].startswith("mix:")]
    best = max(mixes, key=lambda v: v["best"]["valid_ndcg"]["mean"])
    return float(best["variant"].split(":")[1])


def _trained(
    root: Path,
    config: Path,
    overrides: list[str],
    method: str,
    weight: float | None,
    seconds: dict[str, float],
) -> str:
    """Train and evaluate ``method`` from the SFT run under ``config`` and ``overrides``; its
    run key."""
    knobs = [*overrides, *([] if weight is None else [f"rl.grpo_weight={weight}"])]
    recipe = load_config(config, knobs, environ={})
    key = run_key(method, recipe.rl, recipe.train.seed, from_init=True)
    flags = ("--ds", DS.isoformat(), "--config", str(config), *(f"--set={k}" for k in knobs))
    seconds[f"train {key}"] = timed_stage(
        root, "train", *flags, "--method", method, "--init", layout.SFT_KEY
    )
    seconds[f"evaluate {key}"] = timed_stage(root, "evaluate", *flags, "--run", key)
    return key


def _summary(storage: LocalStorage, key: str) -> dict[str, Any]:
    best = storage.read_json(PolicyRun(storage, DS, key).evaluation_summary)["best"]
    return {"run": key, "step": best["step"], "valid": best["valid"], "test": best["test"]}


def _per_user(
    config: PipelineConfig, storage: LocalStorage, runs: dict[str, str]
) -> dict[str, dict[str, np.ndarray]]:
    """Each run's per-user test metrics at its best checkpoint (constrained decoding)."""
    dataset = open_dataset(storage, DS)
    catalog = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False)
    listed = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes)
    scores = {}
    for name, key in runs.items():
        run = PolicyRun(storage, DS, key)
        policy = run.load_policy(StartingPoint.best_of(run).step)
        split = StreamedSplit(dataset, "test", policy.config, None, config.evaluate.chunk_users)
        ranked, _ = rank_items(
            policy, split, catalog, listed, config.evaluate.beam_width, config.evaluate.batch_size
        )
        scores[name] = {
            f"{metric}@{k}": per_user(ranked, split.targets, k)[f"{metric}@{k}"]
            for metric, k in METRICS
        }
    return scores


def _intervals(scores: dict[str, dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Paired bootstrap intervals over the test users of each run against SFT, and of each
    reward-guided run against continued NLL."""
    intervals = []
    for name in scores:
        for baseline in ("sft", "nll"):
            if name in ("sft", baseline):
                continue
            for metric, values in scores[name].items():
                difference = values - scores[baseline][metric]
                interval = paired_bootstrap(difference, BOOTSTRAP_SAMPLES, seed=0)
                intervals.append({"run": name, "against": baseline, "metric": metric, **interval})
    return intervals


if __name__ == "__main__":
    raise SystemExit(main())
