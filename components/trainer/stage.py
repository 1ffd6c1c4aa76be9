"""The train stage for one logical date: fold the dataset into sequences, train, mark complete.

A run is keyed by ``(ds, method)``. Rerunning a complete run with the same spec does nothing;
a killed run resumes from its newest checkpoint; a run whose spec changed (other settings, or a
rebuilt dataset) starts over, saying which settings changed.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

import torch

from components.core.config import PipelineConfig
from components.core.storage import open_storage
from components.datasets.reader import SidDataset, open_dataset
from components.policy.model import Policy, PolicyConfig
from components.trainer.checkpoints import PolicyRun, policy_config_json
from components.trainer.distributed import Workers
from components.trainer.loop import train_policy
from components.trainer.sequences import fold_examples

log = logging.getLogger(__name__)

# Settings that change where progress lines and checkpoints go but not the trained weights.
RUNTIME_SETTINGS = ("device", "log_every", "checkpoint_every")


def train(config: PipelineConfig, ds: date, restart: bool = False) -> dict[str, Any]:
    """Train the policy of ``ds`` with ``config.train.method``; the run's manifest summary."""
    storage = open_storage(config.storage)
    settings = config.train
    workers = Workers.start(settings.device)
    try:
        dataset = open_dataset(storage, ds)
        policy_config = PolicyConfig(
            vocab_sizes=dataset.vocab_sizes,
            max_history_items=dataset.max_history,
            **config.policy.model_dump(),
        )
        run = PolicyRun(storage, ds, settings.method)
        spec = _spec(config, dataset, policy_config)
        if workers.is_main:
            _prepare(run, spec, restart)
        workers.barrier()
        if run.is_complete():
            log.info("%s is already trained; --restart trains it again", storage.uri(run.prefix))
            return run.manifest()

        sequences = fold_examples(
            dataset.split("train"), policy_config.tokens_per_item, dataset.max_history
        )
        log.info(
            "training %s on %s: %d sequences holding %d targets, %s x %d worker(s)",
            settings.method, ds, len(sequences), sequences.targets, workers.device, workers.world,
        )  # fmt: skip
        torch.manual_seed(settings.seed)  # the same initial weights on every worker
        policy = Policy(policy_config)
        torch.manual_seed(settings.seed + workers.rank)  # each worker its own dropout noise
        started = time.perf_counter()
        state = train_policy(policy, sequences, settings, run, workers)
        summary = {
            "final_step": state.step,
            "checkpoints": run.checkpoint_steps(),
            "final_loss": state.metrics[-1]["loss"] if state.metrics else None,
            "train_targets": sequences.targets,
            "device": str(workers.device),
            "workers": workers.world,
            "seconds_this_attempt": round(time.perf_counter() - started, 1),
            "parameters": sum(p.numel() for p in policy.parameters()),
        }
        if workers.is_main:
            run.complete(summary)
        workers.barrier()
        return run.manifest()
    finally:
        workers.stop()


def _spec(config: PipelineConfig, dataset: SidDataset, policy: PolicyConfig) -> dict[str, Any]:
    settings = config.train.model_dump(mode="json", exclude=set(RUNTIME_SETTINGS))
    return {
        "policy": policy_config_json(policy),
        "train": settings,
        "dataset": {
            "ds": dataset.ds.isoformat(),
            "sid_version": dataset.sid_version,
            "published_at": dataset.manifest["published_at"],
        },
    }


def _prepare(run: PolicyRun, spec: dict[str, Any], restart: bool) -> None:
    """Clear the run when asked to or when its spec changed; record the spec."""
    previous = run.read_spec()
    if previous is not None and (restart or previous != spec):
        if not restart:
            log.warning(
                "%s was trained with other settings (%s): starting over",
                run.storage.uri(run.prefix),
                ", ".join(_differences(previous, spec)),
            )
        run.clear()
    if run.read_spec() is None:
        run.write_spec(spec)


def _differences(before: dict[str, Any], after: dict[str, Any], path: str = "") -> list[str]:
    keys = sorted(set(before) | set(after))
    changed: list[str] = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changed += _differences(old, new, f"{path}{key}.")
        elif old != new:
            changed.append(f"{path}{key}: {old!r} -> {new!r}")
    return changed
