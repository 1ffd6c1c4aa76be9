"""What a group of rollouts earns.

A reward is a pointwise score of (user, item) pairs, then optionally a shaping within each
group of G rollouts:

- ``ranker``: the frozen ranker's click probability (the paper's reward);
- ``hit``: 1 for the ground-truth item, 0 for any other (a rule reward without noise);
- ``ranker+hit``: their sum;
- ``hit-rank`` (MiniOneRec's rank-aware rule reward): 1 for the ground truth and, in a group
  that holds it, a penalty for each other rollout at rank i (0 for the most probable) of
  1 / log2(i + 2), normalised so that the penalties of a group sum to -1: confident mistakes
  cost most. A group without the truth earns 0 everywhere, so it has no signal;
- ``ranker-rank``: the ranker's scores replaced by their mid-ranks among the group's rollouts
  and the ground truth, over the group's size: in [0, 1] whatever the ranker's calibration.

Hallucinated rollouts (SIDs of no item) are never scored: they get ``r_invalid``. Every reward
also scores the ground truth on the rollouts' scale. The discriminability diagnostic compares
the ground truth with the rollouts by the ranker's own scores whenever the ranker is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from components.core.config import RewardKind
from components.core.errors import BadInput
from components.ranker.scorer import RankerScorer

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


@dataclass(frozen=True)
class Rollout:
    """A group of rollouts per sample, as the rollout phase found them."""

    users: Tensor  # (N,) user ids
    targets: Tensor  # (N,) ground-truth item ids
    items: Tensor  # (N, G) item ids, NO_ITEM where a rollout is no item
    members: Tensor  # (N, G) rollouts that belong to the group (real ones)
    logprobs: Tensor  # (N, G) each rollout's log-probability under the policy


@dataclass(frozen=True)
class Scored:
    """A group's rewards, and the judge's scores that the discriminability diagnostic reads."""

    rewards: Tensor  # (N, G); r_invalid where a rollout is no item
    target_reward: Tensor  # (N,) the ground truth's, on the rewards' scale
    judged: Tensor  # (N, G) the judge's scores of the rollouts (0 where no item)
    target_judged: Tensor  # (N,) the judge's score of each ground truth


@dataclass(frozen=True)
class GroupReward:
    """A pointwise ``score`` shaped within each group as ``kind`` says, and the ``judge`` of
    discriminability: the ranker whenever there is one, so that the gate asks whether the
    ranker tells the truth apart whatever the reward (a rule reward or a hit bonus would
    tell it apart by construction); the reward itself without a ranker."""

    score: Reward
    kind: RewardKind = "ranker"
    r_invalid: float = 0.0
    judge: Reward | None = None

    def __call__(self, rollout: Rollout) -> Scored:
        scored = rollout.members & (rollout.items != NO_ITEM)
        if self.kind == "hit-rank":
            is_target = scored & (rollout.items == rollout.targets[:, None])
            rewards = hit_rank_rewards(is_target, scored, rollout.logprobs)
            target_reward = torch.ones(len(rollout.targets))
            pointwise = None
        else:
            pointwise = _pointwise(self.score, rollout, scored)
            rewards, target_reward = pointwise
            if self.kind == "ranker-rank":
                rewards, target_reward = group_mid_ranks(rewards, target_reward, scored)
        if self.judge is None:
            judged: tuple[Tensor, Tensor] = (rewards, target_reward)
        elif self.judge is self.score and pointwise is not None:
            judged = pointwise
        else:
            judged = _pointwise(self.judge, rollout, scored)
        return Scored(rewards.masked_fill(~scored, self.r_invalid), target_reward, *judged)


def make_reward(kind: RewardKind, scorer: RankerScorer | None, r_invalid: float) -> GroupReward:
    """The group reward of ``kind``, judged by the ranker ``scorer`` when there is one; the
    ranker kinds need it."""
    ranker = None if scorer is None else RankerReward(scorer)
    if kind in ("hit", "hit-rank"):
        return GroupReward(HitReward(), kind, r_invalid, judge=ranker)
    if ranker is None:
        raise BadInput(f"reward {kind!r} needs the day's ranker")
    score: Reward = SumReward(ranker, HitReward()) if kind == "ranker+hit" else ranker
    return GroupReward(score, kind, r_invalid, judge=ranker)


def needs_ranker(kind: RewardKind, judged: bool) -> bool:
    """Whether training with reward ``kind`` loads the day's ranker: a ranker kind does, and so
    does a method whose gate asks for discriminability (``judged``)."""
    return judged or kind not in ("hit", "hit-rank")


def _pointwise(reward: Reward, rollout: Rollout, scored: Tensor) -> tuple[Tensor, Tensor]:
    """The pointwise rewards of the scored rollouts (0 elsewhere) and of each ground truth, in
    one batched call."""
    n, g = rollout.items.shape
    mask = scored.numpy()
    users, targets = rollout.users.numpy(), rollout.targets.numpy()
    pairs_users = np.repeat(users, g).reshape(n, g)[mask]
    pairs_targets = np.repeat(targets, g).reshape(n, g)[mask]
    values = reward(
        np.concatenate([pairs_users, users]),
        np.concatenate([rollout.items.numpy()[mask], targets]),
        np.concatenate([pairs_targets, targets]),
    )
    rewards = np.zeros((n, g), dtype=np.float64)
    rewards[mask] = values[: int(mask.sum())]
    target_reward = values[int(mask.sum()) :]
    return torch.from_numpy(rewards).float(), torch.from_numpy(target_reward).float()


def group_mid_ranks(
    rewards: Tensor, target_reward: Tensor, scored: Tensor
) -> tuple[Tensor, Tensor]:
    """Each scored rollout's and each ground truth's mid-rank among the group's scored rollouts
    and its ground truth (ties share the mean of their ranks), over the number of scored
    rollouts: 0 for the lowest, 1 for the highest. Order and ties are kept, so the truth
    compares with the rollouts as its raw score did."""
    pool = torch.cat([rewards, target_reward[:, None]], 1)  # (N, G + 1)
    member = torch.cat([scored, torch.ones_like(scored[:, :1])], 1)
    below = ((pool[:, None, :] < pool[:, :, None]) & member[:, None, :]).sum(2).float()
    tied = ((pool[:, None, :] == pool[:, :, None]) & member[:, None, :]).sum(2).float() - 1
    ranks = (below + 0.5 * tied) / scored.sum(1, keepdim=True).clamp(min=1).float()
    return ranks[:, :-1] * scored, ranks[:, -1]


def hit_rank_rewards(is_target: Tensor, scored: Tensor, logprobs: Tensor) -> Tensor:
    """(N, G) MiniOneRec's rank-aware rewards: 1 for the ground truth; in a group that holds
    it, -(1 / log2(i + 2)) / (the sum of that over the group's other scored rollouts) for the
    rollout at rank i, ranks counted from the most probable rollout of the group (a beam
    search's order); 0 in a group without the truth."""
    ranked = logprobs.masked_fill(~scored, float("-inf"))
    order = torch.sort(ranked, dim=1, descending=True, stable=True).indices
    rank = order.argsort(1)  # each rollout's position in its group
    discount = 1.0 / torch.log2(rank.float() + 2.0)
    negative = scored & ~is_target
    penalty = discount * negative
    total = penalty.sum(1, keepdim=True).clamp(min=1e-12)
    has_hit = is_target.any(1, keepdim=True)
    return torch.where(is_target, 1.0, torch.where(has_hit, -penalty / total, 0.0))
