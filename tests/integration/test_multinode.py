"""Training across two "nodes" on loopback, each the trainer image's launcher whose torchrun
meets the other through c10d, reaches the weights one process reaches: SFT, then AdaGRPO from
the same evaluated SFT checkpoint with sampled rollouts judged by the day's ranker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.multinode import NO_DROPOUT, final_weights, train_on_nodes, weight_gap
from components.core.config import load_config
from components.core.layout import run_key
from tests.integration.test_train_policy import (
    DS,
    RUN,
    adagrpo,
    environment,
    fresh_root,
    manifest,
    needs_dataset,
    succeeded,
    train_args,
)

SFT = (*NO_DROPOUT, "train.epochs=2", "train.batch_size=16", "train.log_every=1")
RL = (
    *SFT,
    "rl.steps=4",
    "rl.batch_size=16",
    "rl.group_size=4",
    "rl.rollout=sample",
    "rl.reward=ranker",
    "rl.checkpoint_every=4",
)
ADAGRPO = f"models/policy/dt={DS}/" + run_key(
    "adagrpo", load_config(overrides=RL, environ={}).rl, seed=0, from_init=True
)
# Rounding: DDP sums the two workers' gradients where one process sums all tokens at once.
WEIGHT_TOLERANCE = 1e-4


def metrics(root: Path, run: str) -> list[dict[str, float]]:
    return [json.loads(line) for line in (root / run / "metrics.jsonl").read_text().splitlines()]


@needs_dataset
def test_two_nodes_train_the_weights_one_process_trains(tiny_ranked: Path, tmp_path: Path) -> None:
    one = fresh_root(tiny_ranked, tmp_path / "one")
    two = fresh_root(tiny_ranked, tmp_path / "two")

    succeeded(adagrpo(*train_args(one, *SFT)))
    train_on_nodes(train_args(two, *SFT), nodes=2, env=environment(), timeout_s=300)

    assert (manifest(one)["workers"], manifest(two)["workers"]) == (1, 2)
    assert manifest(one)["final_step"] == manifest(two)["final_step"] > 2
    assert weight_gap(final_weights(one / RUN), final_weights(two / RUN)) < WEIGHT_TOLERANCE
    for alone, together in zip(metrics(one, RUN), metrics(two, RUN), strict=True):
        assert alone["step"] == together["step"]
        assert abs(alone["loss"] - together["loss"]) < 1e-4 * alone["loss"]

    # AdaGRPO from the same SFT checkpoint on both sides: one's, evaluated.
    evaluation = ("evaluate", "--root", str(one), "--ds", DS, "--set", "evaluate.valid_users=20")
    succeeded(adagrpo(*evaluation))
    shutil.rmtree(two / RUN)
    shutil.copytree(one / RUN, two / RUN)
    reinforce = ("--method", "adagrpo")
    succeeded(adagrpo(*train_args(one, *RL), *reinforce))
    train_on_nodes([*train_args(two, *RL), *reinforce], nodes=2, env=environment(), timeout_s=300)

    gap = weight_gap(final_weights(one / ADAGRPO), final_weights(two / ADAGRPO))
    assert gap < WEIGHT_TOLERANCE
    steps = list(zip(metrics(one, ADAGRPO), metrics(two, ADAGRPO), strict=True))
    assert len(steps) == 4
    for alone, together in steps:  # the same rollouts, rewards and gate on both sides
        for name in ("admission", "difficult", "discriminable", "hallucination"):
            assert alone[name] == together[name], (alone["step"], name)
        assert abs(alone["reward_mean"] - together["reward_mean"]) < 1e-5
    assert any(alone["admission"] > 0 for alone, _ in steps)  # the GRPO term took part
