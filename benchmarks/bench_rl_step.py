"""Seconds per RL step against seconds per SFT step, side by side on the same model and batch.
Goal: an AdaGRPO step at most 2x an SFT step at G=8 and batch 256. Beside it, the beam rollouts
of MiniOneRec's recipe at G=16, for AdaGRPO and for the mixture.

The pipeline's default policy (4 layers, width 128, the SID-prefix table) over a Beauty-sized
catalog (12,000 random SIDs of 3 codes of 256 and a de-duplication token), 4,096 sequences of
5 to 21 items (Beauty's users have 9 on average, histories are capped at 20), and the real
ranker code (feature snapshots, encoder, click model) with random weights as the reward. Every
step is a full optimizer step; the RL steps are broken down into rollouts (sampling with the KV
cache at G=8, or the G=16 beams of a beam search), reward scoring, the rest of the rollout phase
(advantages, gate), the forward pass (the NLL anchor and the teacher-forced log-prob pass of the
admitted rollouts) and backward.
``mix`` admits every sample: it is the cost of GRPO without AdaGRPO's gate.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.core.config import PolicyModelConfig, RLConfig, TrainConfig
from components.features.schema import STATS_VIEWS
from components.policy.model import PAD, Policy, PolicyConfig
from components.policy.trie import SidTrie
from components.ranker.encoding import FeatureEncoder
from components.ranker.model import ClickModel, ModelShape
from components.ranker.scorer import RankerScorer
from components.trainer.distributed import Workers
from components.trainer.loop import adamw
from components.trainer.objective import Objective, PolicyLoss
from components.trainer.rewards import Rollout, make_reward
from components.trainer.rl import RolloutPhase
from components.trainer.sequences import Sequences

VOCAB = (256, 256, 256, 32)
ITEMS, USERS, SEQUENCES = 12_000, 20_000, 4_096
BATCH, GROUP, BEAMS = 256, 8, 16
STEPS, WARMUP = 5, 1
GOAL = 2.0
SEED = 0
CPU = Workers(0, 1, torch.device("cpu"))


def run(workdir: Path) -> dict[str, Any]:
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(SEED)
    catalog, sequences = _data(rng)
    trie = SidTrie(catalog, torch.arange(ITEMS), VOCAB)
    scorer = _ranker(rng)
    sampled = RLConfig(group_size=GROUP, batch_size=BATCH)
    beams = sampled.model_copy(update={"rollout": "beam", "group_size": BEAMS})
    config = PolicyConfig(VOCAB, 20, prefix_buckets=PolicyModelConfig().prefix_buckets, dropout=0.1)
    batches = [rng.choice(SEQUENCES, BATCH, replace=False) for _ in range(STEPS + WARMUP)]

    results: dict[str, Any] = {
        "model": {"layers": config.n_layer, "width": config.d_model, "vocab": list(VOCAB)},
        "batch": BATCH,
        "group_size": {"sample": GROUP, "beam": BEAMS},
        "catalog_items": ITEMS,
        "torch_threads": torch.get_num_threads(),
    }
    variants = {
        "nll": ("nll", sampled),
        "adagrpo": ("adagrpo", sampled),
        "mix": ("mix", sampled),
        f"adagrpo_beam{BEAMS}": ("adagrpo", beams),
        f"mix_beam{BEAMS}": ("mix", beams),
    }
    for name, (method, settings) in variants.items():
        torch.manual_seed(SEED)
        policy = Policy(config).train()
        phase = None
        if method != "nll":
            reward = make_reward("ranker", scorer, settings.r_invalid)
            phase = RolloutPhase(policy, None, reward, settings, method, trie, trie, seed=SEED)
        objective = Objective(PolicyLoss(policy, method, settings, trie), phase)
        results[name] = _time_steps(policy, objective, sequences, batches)
    sft = results["nll"]["step_s"]
    for name in list(variants)[1:]:
        results[name]["x_sft"] = round(results[name]["step_s"] / sft, 2)
    results["goal_x_sft"] = GOAL
    results["meets_goal"] = results["adagrpo"]["x_sft"] <= GOAL
    return results


def _time_steps(
    policy: Policy, objective: Objective, sequences: Sequences, batches: list[np.ndarray]
) -> dict[str, Any]:
    optimizer = adamw(policy, TrainConfig(), 1e-4)
    parts: dict[str, list[float]] = {"rollout_phase_s": [], "forward_s": [], "backward_s": []}
    steps, admitted = [], []
    for number, index in enumerate(batches):
        started = time.perf_counter()
        batch, stats = objective.batch(sequences, index, number, CPU)
        prepared = time.perf_counter()
        loss, _ = objective.module(batch)
        forward = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        done = time.perf_counter()
        if number < WARMUP:
            continue
        steps.append(done - started)
        parts["rollout_phase_s"].append(prepared - started)
        parts["forward_s"].append(forward - prepared)
        parts["backward_s"].append(done - forward)
        if "admission" in stats:
            admitted.append(float(stats["admission"][0] / stats["admission"][1]))
    result: dict[str, Any] = {"step_s": round(statistics.median(steps), 3)}
    result.update({name: round(statistics.median(v), 3) for name, v in parts.items()})
    if objective.rollouts is not None:
        result.update(_rollout_breakdown(objective.rollouts, sequences, batches[-1]))
        result["admission"] = round(statistics.mean(admitted), 3)
    return result


@torch.no_grad()
def _rollout_breakdown(
    phase: RolloutPhase, sequences: Sequences, index: np.ndarray
) -> dict[str, float]:
    """The rollout phase's two costly parts, timed on their own: generation and reward scoring."""
    history, _ = sequences.last_examples(index)
    started = time.perf_counter()
    phase.policy.eval()
    generated = phase._generate(history, phase.noise(0, len(index)))
    phase.policy.train()
    sampled = time.perf_counter()
    items = phase.catalog.lookup(generated.items)
    members = torch.ones(items.shape, dtype=torch.bool)
    users, targets = sequences.users[index], sequences.last_items[index]
    phase.reward(Rollout(users, targets, items, members, generated.logprobs))
    scored = time.perf_counter()
    return {"rollouts_s": round(sampled - started, 3), "reward_s": round(scored - sampled, 3)}


def _data(rng: np.random.Generator) -> tuple[torch.Tensor, Sequences]:
    """A catalog of unique random SIDs and sequences of its items."""
    codes = np.stack([rng.integers(0, size, ITEMS * 2) for size in VOCAB], axis=1)
    catalog = np.unique(codes, axis=0)[:ITEMS]
    rng.shuffle(catalog)
    lengths = rng.integers(5, 22, SEQUENCES)
    width = 21 * len(VOCAB)
    sequence_codes = np.full((SEQUENCES, width), PAD, dtype=np.int64)
    last = np.zeros(SEQUENCES, dtype=np.int64)
    for row, length in enumerate(lengths):
        items = rng.integers(0, ITEMS, length)
        sequence_codes[row, : length * len(VOCAB)] = catalog[items].ravel()
        last[row] = items[-1]
    sequences = Sequences(
        torch.from_numpy(sequence_codes),
        torch.from_numpy(lengths),
        len(VOCAB),
        users=torch.from_numpy(rng.integers(0, USERS, SEQUENCES)),
        last_items=torch.from_numpy(last),
    )
    return torch.from_numpy(catalog), sequences


def _ranker(rng: np.random.Generator) -> RankerScorer:
    """The ranker's scoring path (snapshot join, encoding, click model) with random weights."""
    windows = (7, 30)
    snapshots, columns = {}, {}
    for view, count in zip(STATS_VIEWS, (USERS, ITEMS), strict=True):
        frame = {}
        for name, kind in view.features(windows).items():
            column = f"{view.name}__{name}"
            numeric = kind.__str__() not in ("string", "large_string")
            frame[column] = rng.random(count) if numeric else rng.choice(["a", "b", "c"], count)
            columns[column] = frame[column]
        snapshots[view.name] = pd.DataFrame(frame, index=pd.RangeIndex(count, name=view.join_key))
    sample = pd.DataFrame({name: values[:1000] for name, values in columns.items()})
    encoder = FeatureEncoder.fit(sample, list(columns), max_position=10)
    shape = ModelShape(
        numeric_inputs=2 * len(encoder.numeric),
        categorical_fields=len(encoder.categorical),
        max_position=10,
    )
    torch.manual_seed(SEED)
    return RankerScorer(ClickModel(shape), encoder, snapshots)
