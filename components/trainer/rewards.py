"""What a rollout earns: the frozen ranker's click probability (the paper's reward), a rule
reward of 1 for the ground-truth item, or their sum. Hallucinated rollouts (SIDs of no item)
are never scored: they get ``r_invalid``."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
import torch
from torch import Tensor

from components.ranker.scorer import RankerScorer

RewardKind = Literal["ranker", "hit", "ranker+hit"]
NO_ITEM = -1  # a rollout SID that matches no catalog item


class Reward(Protocol):
    def __call__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(n,) float64 rewards of recommending ``items[j]`` to ``users[j]``, whose true next
        item is ``targets[j]``; every item is a catalog item."""
        ...


class RankerReward:
    """The production ranker's P(click | shown first): learned from exposure-biased logs, so
    noisy exactly where AdaGRPO's gate must be careful."""

    def __init__(self, scorer: RankerScorer) -> None:
        self.scorer = scorer

    def __call__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.scorer.score(users, items)


class HitReward:
    """1 for the ground-truth item, 0 for any other: a rule reward without noise."""

    def __call__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return (items == targets).astype(np.float64)


class SumReward:
    def __init__(self, *parts: Reward) -> None:
        self.parts = parts

    def __call__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.sum([part(users, items, targets) for part in self.parts], axis=0)


def make_reward(kind: RewardKind, scorer: RankerScorer | None) -> Reward:
    """The reward of ``kind``; the ranker kinds need ``scorer``."""
    if kind == "hit":
        return HitReward()
    if scorer is None:
        raise ValueError(f"reward {kind!r} needs the day's ranker")
    ranker = RankerReward(scorer)
    return ranker if kind == "ranker" else SumReward(ranker, HitReward())


def score_groups(
    reward: Reward, users: Tensor, targets: Tensor, items: Tensor, r_invalid: float
) -> tuple[Tensor, Tensor]:
    """Rewards (N, G) of the rollouts ``items`` (item ids, ``NO_ITEM`` for hallucinations) and
    (N,) of each ground truth, in one batched call; hallucinations get ``r_invalid`` unscored."""
    n, g = items.shape
    item_ids = items.numpy()
    valid = item_ids != NO_ITEM
    user_ids = np.repeat(users.numpy(), g).reshape(n, g)
    truth = np.repeat(targets.numpy(), g).reshape(n, g)
    scored = reward(
        np.concatenate([user_ids[valid], users.numpy()]),
        np.concatenate([item_ids[valid], targets.numpy()]),
        np.concatenate([truth[valid], targets.numpy()]),
    )
    rewards = np.full((n, g), r_invalid, dtype=np.float64)
    rewards[valid] = scored[: int(valid.sum())]
    target_reward = scored[int(valid.sum()) :]
    return torch.from_numpy(rewards).float(), torch.from_numpy(target_reward).float()
