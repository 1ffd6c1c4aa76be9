"""The experiment: every method from one SFT run, with one budget, over seeds, compared.

Each variant (a method, and lambda for the weighted ones) trains once per seed from the best
checkpoint of the day's evaluated SFT run (``nll`` continues SFT for the same steps: the fair
control), and every checkpoint is evaluated. Per run, two checkpoints are compared: the best on
validation (unconstrained NDCG@K, the decoding the comparison reports) and the final one; for
each, test HR@K, NDCG@K and hallucination of unconstrained beam search. On a simulated shop each
best checkpoint is also scored by what its users would really click: the mean true relevance of
its top-K lists over that of the truth-optimal lists (the K listed items each user likes most).

The question answered: does AdaGRPO beat the best fixed mixture (chosen on validation) at
matched or lower hallucination, at the best and at the final checkpoint?
"""

from __future__ import annotations

import json
import logging
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.methods import training_method
from components.core.storage import Storage, open_storage
from components.datasets.reader import SidDataset, open_dataset
from components.evaluate.decode import rank_items
from components.evaluate.metrics import NO_ITEM
from components.evaluate.stage import evaluate
from components.evaluate.streamed import StreamedSplit
from components.experiment.report import render_report
from components.policy.model import Policy, PolicyConfig
from components.policy.trie import SidTrie
from components.simulate.truth import TrueRelevance
from components.trainer.checkpoints import PolicyRun, StartingPoint
from components.trainer.stage import train

log = logging.getLogger(__name__)

MATCHED_HALLUCINATION = 0.001  # within 0.1 point of the mixture's rate counts as matched
METRICS = ("hr", "ndcg", "hallucination_rate")


@dataclass(frozen=True)
class Variant:
    method: str
    weight: float  # lambda (ignored by nll and grpo)

    @property
    def name(self) -> str:
        weighted = training_method(self.method).weighted
        return f"{self.method}:{self.weight:g}" if weighted else self.method


def run_experiment(
    config: PipelineConfig, ds: date, methods: list[tuple[str, float | None]], seeds: int
) -> dict[str, Any]:
    """Train, evaluate and compare ``methods`` over ``seeds``; the published comparison."""
    storage = open_storage(config.storage)
    # A run's result reports its best and its final checkpoint on test: both must be scored.
    scoring = config.evaluate.model_copy(update={"test_checkpoints": "all"})
    config = config.model_copy(update={"evaluate": scoring})
    k = 10 if 10 in config.evaluate.ks else max(config.evaluate.ks)
    # The start is scored like every run (same users, same decoding): with the settings the
    # day was evaluated with, this reuses the published scores.
    sft_summary = evaluate(config, ds, layout.SFT_KEY)
    sft = StartingPoint.best_of(PolicyRun(storage, ds, layout.SFT_KEY))
    dataset = open_dataset(storage, ds)
    truth = TruthScore.load(storage, config, dataset, k)
    variants = [Variant(m, config.rl.grpo_weight if w is None else w) for m, w in methods]
    runs = []
    for seed in range(seeds):  # seed by seed, so that an interrupted experiment has whole seeds
        for variant in variants:
            chosen = _config(config, variant, seed)
            key = layout.run_key(variant.method, chosen.rl, seed, from_init=True)
            log.info("experiment: %s (seed %d) -> %s", variant.name, seed, key)
            train(chosen, ds, init=layout.SFT_KEY)
            summary = evaluate(chosen, ds, key)
            run = _run_result(summary, variant, seed, k)
            run["settings"] = chosen.rl.model_dump(mode="json")
            if truth is not None:
                policy = PolicyRun(storage, ds, key).load_policy(run["best"]["step"])
                run["best"]["truth_ratio"] = truth.ratio(policy)
            runs.append(run)
    reference = _checkpoint(sft_summary, sft.step, k)
    if truth is not None:
        reference["truth_ratio"] = truth.ratio(sft.load())
    aggregated = [_aggregate(v.name, [r for r in runs if r["variant"] == v.name]) for v in variants]
    comparison: dict[str, Any] = {
        "ds": ds.isoformat(),
        "k": k,
        "seeds": seeds,
        "budget": {"steps": config.rl.steps, "batch_size": config.rl.batch_size},
        "selected_on": f"valid unconstrained ndcg@{k}",
        "sft": {**sft.to_json(), **reference},
        "truth": "simulated shop" if truth else "none: replayed or production data",
        "variants": aggregated,
        "runs": runs,
    }
    comparison["answer"] = _answer(aggregated, k)
    comparison["tries"] = _tries(storage, ds, runs)
    files = {layout.COMPARISON_FILE: comparison, "report.html": render_report(comparison).encode()}
    partitions.publish_day(storage, layout.COMPARISON, ds, "experiment", files)
    return comparison


def _config(config: PipelineConfig, variant: Variant, seed: int) -> PipelineConfig:
    train_settings = config.train.model_copy(update={"method": variant.method, "seed": seed})
    rl = config.rl.model_copy(update={"grpo_weight": variant.weight})
    return config.model_copy(update={"train": train_settings, "rl": rl})


def _checkpoint(summary: dict[str, Any], step: int, k: int) -> dict[str, Any]:
    """Test metrics (unconstrained) and the validation number of one evaluated checkpoint."""
    entry = next(c for c in summary["checkpoints"] if c["step"] == step)
    test = entry["test"]["unconstrained"]
    return {
        "step": step,
        "valid_ndcg": entry["valid"]["unconstrained"][f"ndcg@{k}"],
        "hr": test[f"hr@{k}"],
        "ndcg": test[f"ndcg@{k}"],
        "hallucination_rate": test["hallucination_rate"],
    }


def _run_result(summary: dict[str, Any], variant: Variant, seed: int, k: int) -> dict[str, Any]:
    checkpoints = summary["checkpoints"]
    best = max(checkpoints, key=lambda c: (c["valid"]["unconstrained"][f"ndcg@{k}"], -c["step"]))
    return {
        "variant": variant.name,
        "run": summary["run"],
        "seed": seed,
        "best": _checkpoint(summary, best["step"], k),
        "final": _checkpoint(summary, checkpoints[-1]["step"], k),
    }


def _aggregate(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread (sample std; 0 for one seed) over the variant's seeds."""
    out: dict[str, Any] = {"variant": name}
    for point in ("best", "final"):
        out[point] = {}
        names = [
            *METRICS,
            "valid_ndcg",
            *(["truth_ratio"] if "truth_ratio" in runs[0][point] else []),
        ]
        for metric in names:
            values = [run[point][metric] for run in runs if metric in run[point]]
            if values:
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                out[point][metric] = {"mean": statistics.fmean(values), "std": spread}
    return out


def _answer(variants: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """AdaGRPO against the fixed mixture that is best on validation, in numbers and words."""
    by_name = {v["variant"]: v for v in variants}
    mixes = [v for v in variants if v["variant"].startswith("mix:")]
    adagrpo = next((v for v in variants if v["variant"].startswith("adagrpo:")), None)
    if not mixes or adagrpo is None:
        return {"text": "needs at least one mix and adagrpo among the methods"}
    mix = max(mixes, key=lambda v: v["best"]["valid_ndcg"]["mean"])
    answer: dict[str, Any] = {"best_mixture": mix["variant"], "adagrpo": adagrpo["variant"]}
    sentences = []
    for point in ("best", "final"):
        ours, theirs = adagrpo[point], mix[point]
        higher = ours["hr"]["mean"] > theirs["hr"]["mean"]
        matched = (
            ours["hallucination_rate"]["mean"]
            <= theirs["hallucination_rate"]["mean"] + MATCHED_HALLUCINATION
        )
        answer[point] = {"higher_hr": higher, "matched_or_lower_hallucination": matched,
                         "beats": higher and matched}  # fmt: skip
        sentences.append(
            f"At the {point} checkpoint, AdaGRPO's test HR@{k} is "
            f"{ours['hr']['mean']:.4f} ± {ours['hr']['std']:.4f} against "
            f"{theirs['hr']['mean']:.4f} ± {theirs['hr']['std']:.4f} for {mix['variant']} (the "
            f"mixture best on validation), with hallucination "
            f"{100 * ours['hallucination_rate']['mean']:.2f}% against "
            f"{100 * theirs['hallucination_rate']['mean']:.2f}%: it "
            f"{'beats' if higher and matched else 'does not beat'} the mixture"
            f"{'' if matched else ' (its hallucination is higher)'}."
        )
    ratios = {
        name: v["best"]["truth_ratio"]["mean"]
        for name, v in by_name.items()
        if "truth_ratio" in v["best"]
    }
    if ratios:
        closest = max(ratios, key=ratios.__getitem__)
        sentences.append(
            "Against the truth-optimal policy (the mean true relevance of its top-"
            f"{k} lists), the best checkpoints reach "
            + ", ".join(f"{name} {ratio:.1%}" for name, ratio in ratios.items())
            + f"; {closest} comes closest."
        )
    answer["text"] = " ".join(sentences)
    return answer


def _tries(storage: Storage, ds: date, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every setting tried on the day, with its validation number: the published comparison's
    list, extended by this experiment's runs (a run tried again with the same settings keeps
    one entry, the newest)."""
    key = f"{layout.partition(layout.COMPARISON, ds)}/{layout.COMPARISON_FILE}"
    earlier: list[dict[str, Any]] = storage.read_json(key)["tries"] if storage.exists(key) else []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    latest = [
        {"at": now, "run": r["run"], "seed": r["seed"], "settings": r["settings"],
         "valid_ndcg_best": r["best"]["valid_ndcg"], "best_step": r["best"]["step"]}
        for r in runs
    ]  # fmt: skip

    def identity(entry: dict[str, Any]) -> str:
        return json.dumps([entry["run"], entry["settings"]], sort_keys=True)

    tried = {identity(entry) for entry in latest}
    return [entry for entry in earlier if identity(entry) not in tried] + latest


@dataclass(frozen=True)
class UserScores:
    """One policy on the test users: per user, whether the held-out item is in its top K, the
    mean true relevance of that list and of the truth-optimal one, and the expected clicks per
    exposure of the list shown as a slate."""

    users: np.ndarray
    hits: np.ndarray
    relevance: np.ndarray
    optimal: np.ndarray
    click_rate: np.ndarray

    @property
    def truth_ratio(self) -> float:
        return float(self.relevance.mean() / self.optimal.mean())


class TruthScore:
    """A policy's top-K test lists against what the simulated users would really click."""

    def __init__(
        self, truth: TrueRelevance, config: PipelineConfig, dataset: SidDataset, k: int
    ) -> None:
        self.config, self.k = config, k
        self.catalog = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False)
        self.listed = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes)
        listed = dataset.catalog.filter(dataset.catalog.column("listed"))
        self.items = np.asarray(listed.column("item_id"), dtype=np.int64)
        self.dataset = dataset
        self.truth = truth
        self._optimal: np.ndarray | None = None
        self._splits: dict[PolicyConfig, StreamedSplit] = {}  # read once per encoding

    @classmethod
    def load(
        cls, storage: Storage, config: PipelineConfig, dataset: SidDataset, k: int
    ) -> TruthScore | None:
        truth = TrueRelevance.load(storage)
        return None if truth is None else cls(truth, config, dataset, k)

    def ratio(self, policy: Policy) -> float:
        """The mean true relevance of the policy's lists over that of the optimal lists."""
        return self.per_user(policy).truth_ratio

    def per_user(self, policy: Policy, constrained: bool = False) -> UserScores:
        """Per test user, the policy's top K by beam search, unconstrained (what the
        comparison reports) or ``constrained`` to the listed items (what is served)."""
        settings = self.config.evaluate
        split = self._splits.get(policy.config)
        if split is None:
            split = StreamedSplit(
                self.dataset, "test", policy.config, settings.test_users, settings.chunk_users
            )
            self._splits[policy.config] = split
        ranked, _ = rank_items(
            policy, split, self.catalog, self.listed if constrained else None,
            settings.beam_width, settings.batch_size,
        )  # fmt: skip
        lists = ranked[:, : self.k]
        found = lists != NO_ITEM
        if self._optimal is None:  # the same users every time: test_users is a fixed sample
            self._optimal = self.truth.of_best_lists(split.users, self.items, self.k)
        return UserScores(
            split.users,
            (lists == split.targets[:, None]).any(1),
            self.truth.of_lists(split.users, lists, found),
            self._optimal,
            self.truth.click_rate(split.users, lists, found),
        )
