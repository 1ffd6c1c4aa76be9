"""The evaluate stage: every checkpoint of a training run on validation (all its users, or a
fixed seeded sample of ``evaluate.valid_users``), with beam search unconstrained and
trie-constrained; the checkpoint chosen on validation by the select stage's rule is then scored
on the test split (every checkpoint with ``evaluate.test_checkpoints: all``).

Under ``models/policy/dt=<ds>/<run key>/evaluation/``: ``checkpoints/step-N.json`` per
checkpoint (kept and reused while the checkpoint's weights and the settings are unchanged, so
an interrupted evaluation picks up where it stopped), ``summary.json``, ``report.html``, and
``_MANIFEST.json`` last.
"""

from __future__ import annotations

import logging
import math
from datetime import date
from functools import partial
from typing import Any

import torch

from components.core import partitions
from components.core.config import EvaluateConfig, PipelineConfig
from components.core.errors import BadInput
from components.core.layout import train_command
from components.core.storage import Storage, open_storage
from components.datasets.reader import open_dataset
from components.evaluate.decode import rank_items
from components.evaluate.metrics import hallucination_rate, ranking_metrics
from components.evaluate.report import render_report
from components.evaluate.streamed import StreamedSplit
from components.policy.model import Policy
from components.policy.trie import SidTrie
from components.selection.rule import choose
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger(__name__)

DECODINGS = ("unconstrained", "constrained")


def evaluate(config: PipelineConfig, ds: date, key: str) -> dict[str, Any]:
    """Evaluate every checkpoint of the run ``key`` of ``ds``; the summary."""
    storage = open_storage(config.storage)
    settings = config.evaluate
    run = PolicyRun(storage, ds, key)
    if not run.is_complete():
        raise BadInput(
            f"no complete training run at {storage.uri(run.prefix)}: run "
            f"`{train_command(ds, key)}` first"
        )
    dataset = open_dataset(storage, ds)
    all_items = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False)
    listed = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes)
    policy_config = run.policy_config()
    valid = StreamedSplit(
        dataset, "valid", policy_config, settings.valid_users, settings.chunk_users
    )
    target = run.evaluation
    storage.delete(f"{target}/{partitions.MANIFEST}")
    scorer, scores = Scorer(all_items, listed, settings), CheckpointScores(storage, run, config)
    results = [scores.on_validation(scorer, step, valid) for step in run.checkpoint_steps()]
    chosen = chosen_checkpoint(results, config)
    tested = results if settings.test_checkpoints == "all" else [chosen]
    untested = [result for result in tested if "test" not in result]
    if untested:  # the test split is read and encoded only when a checkpoint needs it
        test = StreamedSplit(
            dataset, "test", policy_config, settings.test_users, settings.chunk_users
        )
        for result in untested:
            scores.on_test(scorer, result, test)
    summary = _summary(ds, run.key, results, chosen, len(dataset.catalog), config)
    metrics_log = storage.read_bytes(run.metrics_key).decode()
    storage.write_json(run.evaluation_summary, summary)
    storage.write_bytes(
        f"{target}/report.html",
        render_report(summary, results, metrics_log).encode(),
    )
    storage.write_json(
        f"{target}/{partitions.MANIFEST}",
        {"producer": "evaluate", "ds": ds.isoformat(), "run": run.key,
         "best_step": summary["best"]["step"]},
    )  # fmt: skip
    return summary


class CheckpointScores:
    """Each checkpoint's scores, kept in ``checkpoints/step-N.json`` and reused while its
    weights and the settings are unchanged."""

    def __init__(self, storage: Storage, run: PolicyRun, config: PipelineConfig) -> None:
        self.storage, self.run = storage, run
        self.settings = config.evaluate.model_dump(mode="json")
        self.metric = config.promotion.metric  # what the logs show

    def key(self, step: int) -> str:
        return f"{self.run.evaluation}/checkpoints/step-{step:09d}.json"

    def on_validation(self, scorer: Scorer, step: int, split: StreamedSplit) -> dict[str, Any]:
        """The checkpoint's information and validation scores, reused when they are kept."""
        info = self.run.checkpoint_info(step)
        key = self.key(step)
        kept = self.storage.read_json(key) if self.storage.exists(key) else None
        if (
            kept
            and kept["model_sha256"] == info["model_sha256"]
            and kept["settings"] == self.settings
        ):
            log.info("checkpoint %d: already evaluated", step)
            return dict(kept)
        valid = scorer.scores(self.run.load_policy(step), split)
        result = {**info, "settings": self.settings, "valid": valid}
        self.storage.write_json(key, result)
        log.info("checkpoint %d: valid %s", step, _headline(valid, self.metric))
        return result

    def on_test(self, scorer: Scorer, result: dict[str, Any], split: StreamedSplit) -> None:
        """Add the test scores to a checkpoint's ``result``, and keep them."""
        step = result["step"]
        result["test"] = scorer.scores(self.run.load_policy(step), split)
        self.storage.write_json(self.key(step), result)
        log.info("checkpoint %d: test %s", step, _headline(result["test"], self.metric))


def _headline(scores: dict[str, Any], metric: str) -> str:
    return (
        f"{metric} {scores['constrained'][metric]:.4f} (constrained), hallucination "
        f"{100 * scores['unconstrained']['hallucination_rate']:.2f}%"
    )


def chosen_checkpoint(results: list[dict[str, Any]], config: PipelineConfig) -> dict[str, Any]:
    """The run's checkpoint by the select stage's rule; when none is eligible (every one
    hallucinates too much), the best on the metric alone, which select will refuse."""
    metric, cap = config.promotion.metric, config.promotion.max_hallucination
    choice = partial(
        choose,
        results,
        score=lambda r: r["valid"]["constrained"][metric],
        hallucination=lambda r: r["valid"]["unconstrained"]["hallucination_rate"],
    )
    chosen = choice(cap=cap)
    if chosen is None:
        chosen = choice(cap=math.inf)
    assert chosen is not None  # a complete run has a checkpoint
    return chosen


class Scorer:
    """One checkpoint on one split: beam search unconstrained and trie-constrained."""

    def __init__(self, all_items: SidTrie, listed: SidTrie, settings: EvaluateConfig) -> None:
        self.all_items, self.listed, self.settings = all_items, listed, settings

    def scores(self, policy: Policy, split: StreamedSplit) -> dict[str, Any]:
        settings = self.settings
        out = {}
        for decoding in DECODINGS:
            constraint = self.listed if decoding == "constrained" else None
            ranked, generated = rank_items(
                policy, split, self.all_items, constraint, settings.beam_width, settings.batch_size
            )
            # A wider beam finds better lists; what is recommended and judged is the top K.
            top = max(settings.ks)
            ranked, generated = ranked[:, :top], generated[:, :top]
            out[decoding] = {
                **ranking_metrics(ranked, split.targets, settings.ks),
                "hallucination_rate": hallucination_rate(ranked, generated),
                "users": len(split),
            }
        return out


def _summary(
    ds: date,
    key: str,
    results: list[dict[str, Any]],
    chosen: dict[str, Any],
    items: int,
    config: PipelineConfig,
) -> dict[str, Any]:
    promotion = config.promotion
    checkpoint_fields = ("step", "epoch", "model_sha256", "train_loss", "valid", "test")
    return {
        "ds": ds.isoformat(),
        "run": key,
        "selected_on": f"valid constrained {promotion.metric}, among the checkpoints whose valid "
        f"unconstrained hallucination is at most {promotion.max_hallucination}",
        "selection_metric": promotion.metric,
        "best": {k: chosen[k] for k in ("step", "epoch", "model_sha256", "valid", "test")},
        "users": {split: chosen[split]["constrained"]["users"] for split in ("valid", "test")},
        "catalog_items": items,
        "checkpoints": [{k: r[k] for k in checkpoint_fields if k in r} for r in results],
        "torch_threads": torch.get_num_threads(),
    }
