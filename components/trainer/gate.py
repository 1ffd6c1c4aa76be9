"""AdaGRPO's admission gate: two rollout diagnostics per sample and the binary gate they make.

- Policy-side difficulty: the policy is unsure about the sample. ``rollouts`` (default): at most
  ``tau_hit`` of the G rollouts are the ground truth and the normalised entropy of the rollout
  items is at least ``tau_ent``; ``probability``: the policy's own probability of the ground
  truth is at most ``tau_prob``.
- Reward discriminability: the reward ranks the ground truth above the rollout negatives, i.e.
  the share of valid rollouts other than the ground truth that score strictly below it (ties
  count half) is at least ``tau_disc``. A sample without a valid negative is not discriminable:
  nothing says the reward could tell the truth apart.

Each threshold is fixed, or (``tau_*_quantile``) a quantile of its values over the batch, so
that a diagnostic admits a known share of the samples whatever the policy's calibration: with
``tau_prob_quantile`` 0.5 the least confident half is difficult. Under DDP the workers pool
their values, so the quantile is the whole batch's, as in one process.

Everything is computed without gradient from what the rollout phase already has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from components.core.config import RLConfig
from components.core.methods import training_method


@dataclass(frozen=True)
class Diagnostics:
    hit_share: Tensor  # (N,) share of rollouts equal to the ground truth
    entropy: Tensor  # (N,) normalised entropy of the rollout items, in [0, 1]
    discriminability: Tensor  # (N,) share of valid negatives below the truth; NaN without any
    difficult: Tensor  # (N,) bool
    discriminable: Tensor  # (N,) bool


def rollout_entropy(items: Tensor, valid: Tensor) -> Tensor:
    """(N,) entropy of the empirical distribution of each group's rollouts over the items (a
    hallucinated SID counts as its own outcome), over log(G): 0 all equal, 1 all different."""
    n, g = items.shape[:2]
    flat = items.reshape(n, g, -1)
    same = (flat[:, :, None, :] == flat[:, None, :, :]).all(-1) & valid[:, None, :]
    count = same.sum(2).clamp(min=1).float()  # rollouts equal to rollout j, j's own included
    total = valid.sum(1, keepdim=True).clamp(min=1).float()
    # sum over distinct outcomes of -p log p = sum over rollouts of -(1/total) log(count/total)
    entropy = (-(valid.float() / total) * torch.log(count / total)).sum(1)
    return entropy / math.log(g) if g > 1 else torch.zeros(n)


def discriminability(
    target_reward: Tensor, rewards: Tensor, is_target: Tensor, valid: Tensor
) -> Tensor:
    """(N,) the share of valid negatives (valid rollouts that are not the ground truth) whose
    reward is below the truth's, ties counting half; NaN where there is no such negative."""
    negative = valid & ~is_target
    below = (rewards < target_reward[:, None]).float() + 0.5 * (
        rewards == target_reward[:, None]
    ).float()
    count = negative.sum(1)
    share = (below * negative).sum(1) / count.clamp(min=1)
    return torch.where(count > 0, share, torch.full_like(share, float("nan")))


Pool = Callable[[Tensor], Tensor]  # a worker's values -> the whole batch's (NaN for none)


def alone(values: Tensor) -> Tensor:
    """The pool of a single worker: its values are the whole batch's."""
    return values


@dataclass(frozen=True)
class Thresholds:
    """The four thresholds: each a fixed value, or a quantile of the batch when one is given."""

    tau_hit: float
    tau_ent: float
    tau_prob: float
    tau_disc: float
    tau_hit_quantile: float | None = None
    tau_ent_quantile: float | None = None
    tau_prob_quantile: float | None = None
    tau_disc_quantile: float | None = None

    @classmethod
    def of(cls, settings: RLConfig) -> Thresholds:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def value(self, name: str, values: Tensor, pool: Pool = alone) -> float:
        """Threshold ``name`` (e.g. "tau_prob") for this batch's ``values`` (NaN ignored), with
        the other workers' values that ``pool`` adds."""
        quantile = getattr(self, f"{name}_quantile")
        if quantile is None:
            return float(getattr(self, name))
        pooled = pool(values)  # every worker takes part, whatever its share holds
        known = pooled[~pooled.isnan()]
        if len(known) == 0:
            return float(getattr(self, name))
        return float(torch.quantile(known.double(), quantile))


def diagnose(
    is_target: Tensor,
    items: Tensor,
    valid: Tensor,
    rewards: Tensor,
    target_reward: Tensor,
    target_probability: Tensor | None,
    thresholds: Thresholds,
    pool: Pool = alone,
) -> Diagnostics:
    """Both diagnostics of every sample. ``is_target`` (N, G): rollout j is the ground truth;
    ``items`` (N, G, L) the rollout SIDs; ``target_probability`` (N,) for the probability kind
    of difficulty (None: the rollout kind); ``pool`` gathers a diagnostic's values from every
    worker, for the quantile thresholds."""
    hits = (is_target & valid).float().sum(1) / valid.sum(1).clamp(min=1)
    entropy = rollout_entropy(items, valid)
    if target_probability is None:
        difficult = (hits <= thresholds.value("tau_hit", hits, pool)) & (
            entropy >= thresholds.value("tau_ent", entropy, pool)
        )
    else:
        tau_prob = thresholds.value("tau_prob", target_probability, pool)
        difficult = target_probability <= tau_prob
    share = discriminability(target_reward, rewards, is_target, valid)
    discriminable = ~share.isnan() & (share >= thresholds.value("tau_disc", share, pool))
    return Diagnostics(hits, entropy, share, difficult, discriminable)


def gate(method: str, diagnostics: Diagnostics) -> Tensor:
    """(N,) float 0/1: which samples get the GRPO term under ``method``."""
    row = training_method(method)
    admitted = torch.full_like(diagnostics.difficult, row.reinforced)
    if row.difficulty:
        admitted = admitted & diagnostics.difficult
    if row.discriminability:
        admitted = admitted & diagnostics.discriminable
    return admitted.float()
