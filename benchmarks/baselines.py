"""A non-neural reference point for ``make bench-quality``, on the same splits as the policy.

Item transitions: how often item ``b`` followed item ``a`` in training (each training example
gives one pair: its last history item, its target). A user's top ``k`` are the followers of
their last three items, weighted 1, 1/2 and 1/4 from the most recent, then the most frequent
training targets. It knows item identities exactly, which a SID model has to learn.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa

from components.evaluate.metrics import ranking_metrics

RECENCY_WEIGHTS = (1.0, 0.5, 0.25)


def item_transitions(
    train: pa.Table, split: pa.Table, ks: tuple[int, ...] = (5, 10)
) -> dict[str, float]:
    """HR@k and NDCG@k of the transition model fitted on ``train`` (one-target examples:
    ``history_item_ids``, ``target_item_id``), over every user of ``split``."""
    k = max(ks)
    followers: defaultdict[int, Counter[int]] = defaultdict(Counter)
    targets = train.column("target_item_id").to_pylist()
    for history, target in zip(train.column("history_item_ids").to_pylist(), targets, strict=True):
        followers[history[-1]][target] += 1
    popular = [item for item, _ in Counter(targets).most_common(k)]

    ranked = np.empty((split.num_rows, k), dtype=np.int64)
    for row, history in enumerate(split.column("history_item_ids").to_pylist()):
        scores: defaultdict[int, float] = defaultdict(float)
        for weight, item in zip(RECENCY_WEIGHTS, reversed(history), strict=False):
            for follower, count in followers[item].items():
                scores[follower] += weight * count
        top = heapq.nlargest(k, scores, key=scores.__getitem__)
        top += [item for item in popular if item not in top][: k - len(top)]
        ranked[row] = top
    return ranking_metrics(ranked, np.asarray(split.column("target_item_id")), ks)
