"""Top-K retrieval metrics with one held-out item per user, and the hallucination rate.

Generation ranks over the whole SID space, so these are full-ranking metrics (no sampled
negatives): a user's list is the beam's items, best first, and ``-1`` marks a generated SID
that no item has.
"""

from __future__ import annotations

import numpy as np

NO_ITEM = -1


def hit_rank(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each user's target in their list (N, K), 0 where it is not there."""
    hits = ranked == targets[:, None]
    return np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)


def ranking_metrics(
    ranked: np.ndarray, targets: np.ndarray, ks: tuple[int, ...]
) -> dict[str, float]:
    """HR@k (the share of users whose target is in their top k, i.e. Recall@k with one target)
    and NDCG@k (1 / log2(rank + 1) when the target is at ``rank <= k``) for each k."""
    if len(ranked) == 0:
        raise ValueError("no users to evaluate")
    if max(ks) > ranked.shape[1]:
        raise ValueError(f"lists of {ranked.shape[1]} items cannot give metrics at k={max(ks)}")
    metrics: dict[str, float] = {}
    for k in ks:
        for name, values in per_user(ranked, targets, k).items():
            metrics[name] = float(values.mean())
    return metrics


def per_user(ranked: np.ndarray, targets: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Each user's HR@k (0 or 1) and NDCG@k: the means are the metrics, the pairs of two models
    on the same users are what a paired test resamples."""
    rank = hit_rank(ranked, targets)
    within = (rank > 0) & (rank <= k)
    gain = 1.0 / np.log2(np.maximum(rank, 1) + 1.0)  # no 1/0 warning where rank is 0
    return {f"hr@{k}": within.astype(np.float64), f"ndcg@{k}": np.where(within, gain, 0.0)}


def hallucination_rate(ranked: np.ndarray, generated: np.ndarray) -> float:
    """The share of generated SIDs (``generated`` marks the real beams) that match no item."""
    total = int(generated.sum())
    return float(((ranked == NO_ITEM) & generated).sum() / total) if total else 0.0
