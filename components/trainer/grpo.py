"""The GRPO term: group-relative advantages, the clipped per-token surrogate, the k3 KL.

Shapes: N samples, G rollouts each, L tokens per rollout. ``active`` (N, G, L) marks the
tokens that count (a beam search under a small trie can return fewer than G real beams).
Every function here is pure; the loss of sample ``i`` is returned per sample so that the
caller can gate it (AdaGRPO) before averaging.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

AdvantageKind = Literal["group_std", "none"]
Aggregation = Literal["sequence_mean", "token_sum", "constant"]
STD_EPS = 1e-4  # TRL's: a near-constant group gets large but finite advantages


def advantages(rewards: Tensor, valid: Tensor, kind: AdvantageKind) -> Tensor:
    """(N, G) advantages: each reward minus its group's mean, over the group's std (unbiased,
    as DeepSeekMath and TRL) with ``group_std``, or only centred with ``none`` (Dr. GRPO).
    Only ``valid`` rollouts (real ones) enter the statistics; the others get 0."""
    count = valid.sum(1, keepdim=True).clamp(min=1)
    mean = (rewards * valid).sum(1, keepdim=True) / count
    centred = (rewards - mean) * valid
    if kind == "none":
        return centred
    var = (centred**2).sum(1, keepdim=True) / (count - 1).clamp(min=1)
    return centred / (var.sqrt() + STD_EPS)


def zero_variance(rewards: Tensor, valid: Tensor) -> Tensor:
    """(N,) whether every real rollout of a group got the same reward: no GRPO signal."""
    high = rewards.masked_fill(~valid, float("-inf")).amax(1)
    low = rewards.masked_fill(~valid, float("inf")).amin(1)
    return (high - low <= 0) | (valid.sum(1) < 2)


def k3_kl(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimate of KL(pi_theta || pi_ref): exp(d) - d - 1 with d = ref - theta.
    Non-negative, unbiased, low variance (Schulman's approximator, as in DeepSeekMath)."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def clipped_token_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantage: Tensor,
    eps_low: float,
    eps_high: float,
) -> Tensor:
    """(N, G, L) ``-min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)``, rho = exp(logp - old).
    ``advantage`` is (N, G), shared by the tokens of a rollout."""
    ratio = torch.exp(logp - old_logp)
    a = advantage[..., None]
    return -torch.minimum(ratio * a, ratio.clamp(1 - eps_low, 1 + eps_high) * a)


def per_sample_loss(token_loss: Tensor, active: Tensor, aggregation: Aggregation) -> Tensor:
    """(N,) the loss of each sample's group from per-token losses (N, G, L):

    - ``sequence_mean`` (GRPO): each rollout's token mean, averaged over the G rollouts;
    - ``token_sum`` (DAPO): the group's token sum over the batch's mean active tokens per
      sample, so that every token weighs the same whichever group it is in;
    - ``constant`` (Dr. GRPO): the group's token sum over the constant G x L.
    """
    masked = token_loss * active
    n, g, length = token_loss.shape
    if aggregation == "sequence_mean":
        tokens = active.sum(2).clamp(min=1)
        real = (active.sum(2) > 0).sum(1).clamp(min=1)
        return (masked.sum(2) / tokens).sum(1) / real
    if aggregation == "token_sum":
        per_sample_tokens = active.sum() / max(n, 1)
        return masked.sum((1, 2)) / per_sample_tokens.clamp(min=1)
    return masked.sum((1, 2)) / (g * length)
