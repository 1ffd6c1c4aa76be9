"""The train stage for one logical date: fold the dataset into sequences, train, publish.

A run is keyed by ``(ds, run key)`` (``checkpoints.run_key``). Rerunning a complete run with
the same spec does nothing. Otherwise training happens in an attempt beside the run, keyed by
the spec (``checkpoints.py``): a killed attempt resumes from its newest checkpoint, and a run
whose spec changed (other settings, a dataset rebuilt with other rows, a republished SFT run or
ranker) is replaced only when its successor completes, so a finished model is never lost to a
rerun.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch

from components.core.config import PipelineConfig
from components.core.layout import SFT_KEY, run_key
from components.core.methods import training_method
from components.core.storage import Storage, open_storage
from components.datasets.reader import SidDataset, open_dataset
from components.policy.model import Policy, PolicyConfig
from components.policy.trie import SidTrie
from components.ranker.scorer import RankerScorer
from components.trainer.checkpoints import PolicyRun, StartingPoint, policy_config_json
from components.trainer.distributed import Workers
from components.trainer.loop import Budget, train_policy
from components.trainer.objective import Objective, PolicyLoss
from components.trainer.rewards import make_reward, needs_ranker
from components.trainer.rl import RolloutPhase
from components.trainer.stream import SequenceStream, fold_stream

log = logging.getLogger(__name__)

# Settings that change where progress lines and checkpoints go but not the trained weights.
RUNTIME_SETTINGS = ("device", "log_every", "checkpoint_every")


def train(
    config: PipelineConfig, ds: date, restart: bool = False, init: str | None = None
) -> dict[str, Any]:
    """Train the policy of ``ds`` with ``config.train.method``: SFT from scratch for ``nll``,
    every other method (and ``nll`` given ``init``) from the best checkpoint of the run
    ``init`` (default: the day's SFT run). The run's manifest summary."""
    storage = open_storage(config.storage)
    settings = config.train
    row = training_method(settings.method)
    reinforced = row.reinforced or init is not None
    workers = Workers.start(settings.device)
    with contextlib.ExitStack() as stack:
        stack.callback(workers.stop)
        dataset = open_dataset(storage, ds)
        key = run_key(settings.method, config.rl, settings.seed, reinforced)
        run = PolicyRun(storage, ds, key)
        start = (
            StartingPoint.best_of(PolicyRun(storage, ds, init or SFT_KEY)) if reinforced else None
        )
        scorer = _scorer(config, storage, ds) if row.reinforced else None
        policy_config = (
            start.run.policy_config()
            if start
            else PolicyConfig(
                vocab_sizes=dataset.vocab_sizes,
                max_history_items=dataset.max_history,
                **config.policy.model_dump(),
            )
        )
        spec = _spec(config, dataset, policy_config, start, scorer)
        if not restart and run.is_complete() and run.read_spec() == spec:
            log.info("%s is already trained; --restart trains it again", storage.uri(run.prefix))
            return run.manifest()
        attempt = run.attempt(spec)
        if workers.is_main:
            _prepare(run, attempt, spec, restart)
        workers.barrier()

        spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="adagrpo-sequences-"))
        sequences = SequenceStream.write(
            fold_stream(
                dataset.stream("train"), policy_config.tokens_per_item, dataset.max_history
            ),
            Path(spool),
            batch_size=(config.rl if start else settings).batch_size,
            window_sequences=settings.shuffle_window,
        )
        log.info(
            "training %s on %s: %d sequences holding %d targets in %d window(s), %s x %d "
            "worker(s)", key, ds, len(sequences), sequences.targets, sequences.windows_per_epoch,
            workers.device, workers.world,
        )  # fmt: skip
        torch.manual_seed(settings.seed)  # the same initial weights on every worker
        policy = start.load().train() if start else Policy(policy_config)
        torch.manual_seed(settings.seed + workers.rank)  # each worker its own dropout noise
        if start:
            objective = _reinforced(config, dataset, policy, start, scorer, workers)
            budget = Budget.reinforced(config.rl)
        else:
            objective, budget = Objective.supervised(policy), Budget.supervised(settings, sequences)
        started = time.perf_counter()
        state = train_policy(policy, sequences, settings, budget, objective, attempt, workers)
        # Only the main worker reads the attempt and promotes it: promoting moves the attempt's
        # files, which another worker must not be listing at the time.
        if workers.is_main:
            summary = {
                "final_step": state.step,
                "checkpoints": attempt.checkpoint_steps(),
                "final_loss": state.metrics[-1]["loss"] if state.metrics else None,
                "train_targets": sequences.targets,
                "device": str(workers.device),
                "workers": workers.world,
                "seconds_this_attempt": round(time.perf_counter() - started, 1),
                "parameters": sum(p.numel() for p in policy.parameters()),
            }
            run.promote(attempt, summary)
        workers.barrier()
        return run.manifest()


def _scorer(config: PipelineConfig, storage: Storage, ds: date) -> RankerScorer | None:
    """The day's ranker, when the reward or the gate's discriminability needs it."""
    judged = training_method(config.train.method).discriminability
    return RankerScorer.load(storage, ds) if needs_ranker(config.rl.reward, judged) else None


def _reinforced(
    config: PipelineConfig,
    dataset: SidDataset,
    policy: Policy,
    start: StartingPoint,
    scorer: RankerScorer | None,
    workers: Workers,
) -> Objective:
    """The objective of an RL method: rollouts from the policy, rewards, the gate, the loss."""
    settings = config.rl
    method = config.train.method
    listed = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes).to(workers.device)
    catalog = SidTrie.from_catalog(dataset.catalog, dataset.vocab_sizes, listed_only=False)
    reference = None
    if settings.beta > 0:
        reference = start.load().to(workers.device).requires_grad_(False)
    trie = listed if settings.constrained else None
    loss = PolicyLoss(policy, method, settings, trie)
    if not training_method(method).reinforced:  # continued SFT: the same budget, no rollouts
        return Objective(loss)
    rollouts = RolloutPhase(
        policy,
        reference,
        make_reward(settings.reward, scorer, settings.r_invalid),
        settings,
        method,
        catalog,
        listed,
        config.train.seed,
    )
    return Objective(loss, rollouts)


def _spec(
    config: PipelineConfig,
    dataset: SidDataset,
    policy: PolicyConfig,
    start: StartingPoint | None,
    scorer: RankerScorer | None,
) -> dict[str, Any]:
    settings = config.train.model_dump(mode="json", exclude=set(RUNTIME_SETTINGS))
    spec: dict[str, Any] = {
        "policy": policy_config_json(policy),
        "train": settings,
        "dataset": {
            "ds": dataset.ds.isoformat(),
            "sid_version": dataset.sid_version,
            "content": dataset.manifest.get("content"),  # rebuilt with the same rows: no retraining
        },
    }
    if start is not None:  # what a republished SFT run or ranker must not resume into
        spec["rl"] = config.rl.model_dump(mode="json", exclude=set(RUNTIME_SETTINGS))
        spec["init"] = start.to_json()
        spec["ranker"] = {"weights_sha256": scorer.weights_sha256} if scorer else None
    return spec


def _prepare(run: PolicyRun, attempt: PolicyRun, spec: dict[str, Any], restart: bool) -> None:
    """Start the attempt over when asked to, record its spec, say what it will replace."""
    if restart:
        attempt.clear()
    if attempt.read_spec() is None:
        attempt.write_spec(spec)
    previous = run.read_spec() if run.is_complete() else None
    if previous is not None and previous != spec:
        log.warning(
            "%s was trained with other settings (%s): training aside in %s; the finished run "
            "stays as it is until this one completes",
            run.storage.uri(run.prefix),
            ", ".join(_differences(previous, spec)),
            run.storage.uri(attempt.prefix),
        )


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
