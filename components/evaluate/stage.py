"""The evaluate stage: every checkpoint of a training run, on validation and test, with beam
search unconstrained and trie-constrained; the best checkpoint is chosen on validation.

Under ``models/policy/dt=<ds>/<run key>/evaluation/``: ``checkpoints/step-N.json`` per
checkpoint (kept and reused while the checkpoint's weights and the settings are unchanged, so
an interrupted evaluation picks up where it stopped), ``summary.json``, ``report.html``, and
``_MANIFEST.json`` last.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import torch

from components.core import partitions
from components.core.config import EvaluateConfig, PipelineConfig
from components.core.errors import BadInput
from components.core.layout import train_command
from components.core.storage import open_storage
from components.datasets.reader import open_dataset
from components.evaluate.decode import EvalSplit, eval_split, rank_items
from components.evaluate.metrics import hallucination_rate, ranking_metrics
from components.evaluate.report import render_report
from components.policy.model import Policy
from components.policy.trie import SidTrie
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger(__name__)

SPLITS = ("valid", "test")
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
    steps = run.checkpoint_steps()
    policy_config = run.policy_config()
    splits = [
        eval_split(name, dataset.split(name), policy_config, settings.max_users) for name in SPLITS
    ]
    # Checkpoints are chosen on validation NDCG at the longest list, constrained: what is served.
    selection = f"ndcg@{max(settings.ks)}"
    target = run.evaluation
    storage.delete(f"{target}/{partitions.MANIFEST}")
    results = []
    for step in steps:
        info = run.checkpoint_info(step)
        scores = f"{target}/checkpoints/step-{step:09d}.json"
        cached = storage.read_json(scores) if storage.exists(scores) else None
        if (
            cached
            and cached["model_sha256"] == info["model_sha256"]
            and cached["settings"] == settings.model_dump(mode="json")
        ):
            log.info("checkpoint %d: already evaluated", step)
            results.append(cached)
            continue
        policy = run.load_policy(step)
        metrics = _checkpoint_metrics(policy, splits, all_items, listed, settings)
        result = {**info, "settings": settings.model_dump(mode="json"), **metrics}
        storage.write_json(scores, result)
        log.info(
            "checkpoint %d: valid %s %.4f, test %s %.4f (constrained), hallucination %.2f%%",
            step, selection, metrics["valid"]["constrained"][selection],
            selection, metrics["test"]["constrained"][selection],
            100 * metrics["test"]["unconstrained"]["hallucination_rate"],
        )  # fmt: skip
        results.append(result)
    summary = _summary(ds, run.key, results, splits, len(dataset.catalog), selection)
    metrics_log = storage.read_bytes(run.metrics_key).decode()
    storage.write_json(run.evaluation_summary, summary)
    storage.write_bytes(
        f"{target}/report.html", render_report(summary, results, metrics_log).encode()
    )
    storage.write_json(
        f"{target}/{partitions.MANIFEST}",
        {"producer": "evaluate", "ds": ds.isoformat(), "run": run.key,
         "best_step": summary["best"]["step"]},
    )  # fmt: skip
    return summary


def _checkpoint_metrics(
    policy: Policy,
    splits: list[EvalSplit],
    all_items: SidTrie,
    listed: SidTrie,
    settings: EvaluateConfig,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in splits:
        out[split.name] = {}
        for decoding in DECODINGS:
            constraint = listed if decoding == "constrained" else None
            ranked, generated = rank_items(
                policy, split, all_items, constraint, settings.beam_width, settings.batch_size
            )
            # A wider beam finds better lists; what is recommended and judged is the top K.
            top = max(settings.ks)
            ranked, generated = ranked[:, :top], generated[:, :top]
            out[split.name][decoding] = {
                **ranking_metrics(ranked, split.targets, settings.ks),
                "hallucination_rate": hallucination_rate(ranked, generated),
                "users": len(split),
            }
    return out


def _summary(
    ds: date,
    key: str,
    results: list[dict[str, Any]],
    splits: list[EvalSplit],
    items: int,
    selection: str,
) -> dict[str, Any]:
    best = max(results, key=lambda r: (r["valid"]["constrained"][selection], -r["step"]))
    return {
        "ds": ds.isoformat(),
        "run": key,
        "selected_on": f"valid constrained {selection}",
        "selection_metric": selection,
        "best": {k: best[k] for k in ("step", "epoch", "model_sha256", "valid", "test")},
        "users": {split.name: len(split) for split in splits},
        "catalog_items": items,
        "checkpoints": [
            {k: r[k] for k in ("step", "epoch", "model_sha256", "train_loss", "valid", "test")}
            for r in results
        ],
        "torch_threads": torch.get_num_threads(),
    }
