"""The stratified analysis of one day's runs.

Each validation sample gets the two rollout diagnostics from the best SFT checkpoint and the
day's ranker, exactly as AdaGRPO's gate computes them (``trainer/rl.py``), which puts it in one
of four strata. Per stratum: how many samples, each evaluated run's HR@K (its best checkpoint,
constrained beam search), and on a simulated shop two things the logs cannot show: the
ranker's pairwise accuracy against what the users would really click (the share of (ground
truth, valid rollout negative) pairs that the ranker orders as the true relevance does, ties
half), and each run's truth ratio, the true relevance of its top-K lists over that of the
truth-optimal lists. The truth ratio per stratum says whether reward guidance raised or lowered
what the users would really get, where the logged HR only sees the next logged click.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np
import torch

from components.analysis.report import render_report
from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.progress import Progress
from components.core.storage import Storage, open_storage
from components.datasets.reader import SidDataset, open_dataset
from components.evaluate.decode import EvalSplit, rank_items
from components.evaluate.streamed import StreamedSplit
from components.policy.trie import SidTrie
from components.ranker.scorer import RankerScorer
from components.simulate.truth import TrueRelevance
from components.trainer.checkpoints import PolicyRun, StartingPoint, evaluated_runs
from components.trainer.gate import Thresholds
from components.trainer.rewards import NO_ITEM, make_reward
from components.trainer.rl import Outcome, RolloutPhase

log = logging.getLogger(__name__)

STRATA = (  # (difficult, discriminable), the paper's admitted stratum first
    (True, True),
    (True, False),
    (False, True),
    (False, False),
)
BATCH = 256


def analyze(config: PipelineConfig, ds: date) -> dict[str, Any]:
    """Analyse the runs of ``ds``; the published summary."""
    storage = open_storage(config.storage)
    dataset = open_dataset(storage, ds)
    sft = StartingPoint.best_of(PolicyRun(storage, ds, layout.SFT_KEY))
    split, outcomes = explore_validation(config, storage, dataset, sft, config.evaluate.valid_users)
    listed = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes)
    catalog = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False)
    stratum = _strata(outcomes)
    truth = TrueRelevance.load(storage)
    agreement = _truth_agreement(truth, split, outcomes) if truth else None
    k = 10 if 10 in config.evaluate.ks else max(config.evaluate.ks)
    optimal = None
    if truth is not None:
        listed_items = dataset.catalog.filter(dataset.catalog.column("listed")).column("item_id")
        optimal = truth.of_best_lists(split.users, np.asarray(listed_items, dtype=np.int64), k)
    results = {
        run.key: _run_result(run, split, catalog, listed, config, k, truth)
        for run in evaluated_runs(storage, ds)
    }
    summary = {
        "ds": ds.isoformat(),
        "split": "valid",
        "samples": len(split),
        "sft": sft.to_json(),
        "k": k,
        "rollouts": {
            name: getattr(config.rl, name)
            for name in ("group_size", "rollout", "temperature", "constrained", "reward")
        },
        "thresholds": {
            name: getattr(config.rl, name)
            for name in ("difficulty", *(f.name for f in fields(Thresholds)))
            if getattr(config.rl, name) is not None
        },
        "truth": "simulated shop" if truth else "none: replayed or production data",
        "ranker_discriminability": pooled_discriminability(outcomes, split.targets),
        "ranker_truth_accuracy": _accuracy(agreement, np.ones(len(split), bool)),
        "runs": {
            key: {
                "step": result.step,
                f"hr@{k}": float(result.hits.mean()),
                "truth_ratio": _truth_ratio(result, optimal, np.ones(len(split), bool)),
            }
            for key, result in results.items()
        },
        "strata": [
            _stratum(difficult, discriminable, stratum == index, results, agreement, optimal, k)
            for index, (difficult, discriminable) in enumerate(STRATA)
        ],
    }
    files = {"analysis.json": summary, "report.html": render_report(summary).encode()}
    partitions.publish_day(storage, layout.ANALYSIS, ds, "analyze", files)
    return summary


def explore_validation(
    config: PipelineConfig,
    storage: Storage,
    dataset: SidDataset,
    sft: StartingPoint,
    users: int | None,
) -> tuple[EvalSplit, list[Outcome]]:
    """The validation samples (a fixed sample of ``users``, or all) and what the gate's
    rollout phase finds for each from the SFT checkpoint ``sft``, the day's ranker judging."""
    policy = sft.load()
    chunk_users = config.evaluate.chunk_users
    split = StreamedSplit(dataset, "valid", policy.config, users, chunk_users).held()
    phase = RolloutPhase(
        policy,
        None,
        make_reward("ranker", RankerScorer.load(storage, dataset.ds), config.rl.r_invalid),
        config.rl,
        "adagrpo",
        SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False),
        SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes),
        config.train.seed,
    )
    return split, _explore(phase, split)


def _explore(phase: RolloutPhase, split: EvalSplit) -> list[Outcome]:
    progress = Progress("rollouts of the SFT policy", total=len(split), unit="samples")
    outcomes = []
    for number, start in enumerate(range(0, len(split), BATCH)):
        rows = slice(start, start + BATCH)
        outcomes.append(
            phase.explore(
                split.histories[rows],
                split.target_codes[rows],
                torch.from_numpy(split.users[rows]),
                torch.from_numpy(split.targets[rows]),
                phase.noise(number, len(split.targets[rows])),
            )
        )
        progress.advance(len(split.targets[rows]))
    progress.finish()
    return outcomes


def pooled_discriminability(outcomes: list[Outcome], targets: np.ndarray) -> float | None:
    """The share of all (ground truth, valid rollout negative) pairs in which the ranker scores
    the truth higher (ties half): how well it tells the truth from what the policy proposes,
    measurable without a truth (replayed or production data)."""
    below, pairs = 0.0, 0
    for start, outcome in zip(range(0, len(targets), BATCH), outcomes, strict=True):
        found = targets[start : start + len(outcome.item_ids)]
        negative = (outcome.valid & (outcome.item_ids != torch.from_numpy(found)[:, None])).numpy()
        share = np.nan_to_num(outcome.diagnostics.discriminability.numpy())
        below += float((share * negative.sum(1)).sum())
        pairs += int(negative.sum())
    return below / pairs if pairs else None


def _strata(outcomes: list[Outcome]) -> np.ndarray:
    """(n,) the index in ``STRATA`` of each sample."""
    difficult = np.concatenate([o.diagnostics.difficult.numpy() for o in outcomes])
    discriminable = np.concatenate([o.diagnostics.discriminable.numpy() for o in outcomes])
    return 2 * (~difficult) + (~discriminable)


def _truth_agreement(
    truth: TrueRelevance, split: EvalSplit, outcomes: list[Outcome]
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: (agreements, pairs) of the ranker with the true relevance over the pairs
    (ground truth, valid rollout negative)."""
    agree, pairs = [], []
    for start, outcome in zip(range(0, len(split), BATCH), outcomes, strict=True):
        users = split.users[start : start + len(outcome.item_ids)]
        targets = split.targets[start : start + len(outcome.item_ids)]
        items = outcome.item_ids.numpy()
        negative = (items != NO_ITEM) & (items != targets[:, None])
        g = items.shape[1]
        true_rollouts = np.zeros(items.shape)
        true_rollouts[negative] = truth(np.repeat(users, g).reshape(items.shape)[negative],
                                        items[negative])  # fmt: skip
        true_target = truth(users, targets)[:, None]
        judged = outcome.scored
        ranker = np.sign(judged.target_judged.numpy()[:, None] - judged.judged.numpy())
        true = np.sign(true_target - true_rollouts)
        credit = np.where(ranker == 0, 0.5, (ranker == true).astype(float))
        agree.append((credit * negative).sum(1))
        pairs.append(negative.sum(1))
    return np.concatenate(agree), np.concatenate(pairs)


@dataclass(frozen=True)
class RunResult:
    step: int  # the run's best checkpoint
    hits: np.ndarray  # (n,) whether each sample's target is in its top K
    relevance: np.ndarray | None  # (n,) the mean true relevance of its top K, on a simulation


def _run_result(
    run: PolicyRun,
    split: EvalSplit,
    catalog: SidTrie,
    listed: SidTrie,
    config: PipelineConfig,
    k: int,
    truth: TrueRelevance | None,
) -> RunResult:
    """The run's best checkpoint, ranking every validation sample's top ``k``."""
    step = StartingPoint.best_of(run).step
    log.info("%s, step %d: ranking the validation samples", run.key, step)
    ranked, _ = rank_items(
        run.load_policy(step), split, catalog, listed, config.evaluate.beam_width,
        config.evaluate.batch_size,
    )  # fmt: skip
    lists = ranked[:, :k]
    relevance = None if truth is None else truth.of_lists(split.users, lists, lists != NO_ITEM)
    return RunResult(step, (lists == split.targets[:, None]).any(1), relevance)


def _truth_ratio(
    result: RunResult, optimal: np.ndarray | None, members: np.ndarray
) -> float | None:
    """The true relevance of the run's lists over that of the truth-optimal lists, on
    ``members``; None without a truth or without members."""
    if result.relevance is None or optimal is None or not members.any():
        return None
    return float(result.relevance[members].sum() / optimal[members].sum())


def _accuracy(agreement: tuple[np.ndarray, np.ndarray] | None, members: np.ndarray) -> float | None:
    """The ranker's pairwise accuracy against the truth over the pairs of ``members``."""
    if agreement is None or agreement[1][members].sum() == 0:
        return None
    return float(agreement[0][members].sum() / agreement[1][members].sum())


def _stratum(
    difficult: bool,
    discriminable: bool,
    members: np.ndarray,
    results: dict[str, RunResult],
    agreement: tuple[np.ndarray, np.ndarray] | None,
    optimal: np.ndarray | None,
    k: int,
) -> dict[str, Any]:
    count = int(members.sum())
    return {
        "difficult": difficult,
        "discriminable": discriminable,
        "samples": count,
        "share": count / len(members),
        "ranker_truth_accuracy": _accuracy(agreement, members),
        f"hr@{k}": {
            key: float(result.hits[members].mean()) if count else None
            for key, result in results.items()
        },
        "truth_ratio": {
            key: _truth_ratio(result, optimal, members) for key, result in results.items()
        },
    }
