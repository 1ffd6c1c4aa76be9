"""The ranker against the simulator's hidden truth, by how often each item was exposed.

On simulated data the true relevance of any (user, item) pair is known (``truth/``). Items are
bucketed by their exposures in the training rows (never shown, then quartiles of the shown
ones); for sampled users, each bucket reports the ranker's pairwise ranking accuracy against
the true relevance and the gap between its score and the true click probability at position 1.
Rarely exposed items are where the ranker should be worst: this measures by how much.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from components.core import partitions
from components.core.layout import TRUTH, TRUTH_ITEMS, TRUTH_PARAMS, TRUTH_USERS
from components.core.storage import Storage

EXPOSED_BUCKETS = 4
USERS = 256
ITEMS_PER_BUCKET = 128

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BucketAccuracy:
    bucket: str
    items: int
    min_exposures: int
    max_exposures: int
    pairwise_accuracy: float  # share of item pairs a user ranks as the truth does (ties half)
    mean_abs_error: float  # |score - true relevance|, mean over (user, item)
    mean_score: float
    mean_relevance: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def has_truth(storage: Storage) -> bool:
    return partitions.is_published(storage, TRUTH) and storage.exists(f"{TRUTH}/{TRUTH_PARAMS}")


def truth_accuracy(
    storage: Storage, score: Scorer, exposures: pd.Series, listed_before: pd.Timestamp, seed: int
) -> list[BucketAccuracy]:
    """Accuracy per exposure bucket of the items listed before ``listed_before``.

    ``exposures``: training-row exposures per item id (items absent were never shown).
    """
    users = storage.read_parquet(f"{TRUTH}/{TRUTH_USERS}").to_pandas()
    items = storage.read_parquet(f"{TRUTH}/{TRUTH_ITEMS}").to_pandas()
    feedback = storage.read_json(f"{TRUTH}/{TRUTH_PARAMS}")["feedback"]
    items = items[items["created_at"] < listed_before].reset_index(drop=True)
    items["exposures"] = exposures.reindex(items["item_id"]).fillna(0).astype(int).to_numpy()
    rng = np.random.default_rng(seed)
    sampled = users.iloc[np.sort(rng.permutation(len(users))[:USERS])]
    user_latent = _latent(sampled)
    results = []
    for name, bucket in _buckets(items):
        chosen = bucket.iloc[np.sort(rng.permutation(len(bucket))[:ITEMS_PER_BUCKET])]
        logit = (
            feedback["affinity_scale"] * user_latent @ _latent(chosen).T
            + chosen["quality"].to_numpy()
            + feedback["relevance_bias"]
        )
        relevance = 1.0 / (1.0 + np.exp(-logit))  # truth.py's RELEVANCE_FORMULA
        pair_users = np.repeat(sampled["user_id"].to_numpy(), len(chosen))
        pair_items = np.tile(chosen["item_id"].to_numpy(), len(sampled))
        scores = score(pair_users, pair_items).reshape(relevance.shape)
        results.append(
            BucketAccuracy(
                bucket=name,
                items=len(bucket),
                min_exposures=int(bucket["exposures"].min()),
                max_exposures=int(bucket["exposures"].max()),
                pairwise_accuracy=pairwise_accuracy(scores, relevance),
                mean_abs_error=float(np.abs(scores - relevance).mean()),
                mean_score=float(scores.mean()),
                mean_relevance=float(relevance.mean()),
            )
        )
    return results


def _latent(frame: pd.DataFrame) -> np.ndarray:
    return np.stack(list(frame["latent"]))


def _buckets(items: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Never exposed, then equal-size groups of the exposed items by rank of exposures."""
    never = items[items["exposures"] == 0]
    shown = items[items["exposures"] > 0].sort_values(["exposures", "item_id"], kind="stable")
    groups = [
        shown.iloc[index]
        for index in np.array_split(np.arange(len(shown)), min(EXPOSED_BUCKETS, len(shown)))
    ]
    named = [("never exposed", never)] if len(never) else []
    return named + [(f"exposed q{rank + 1}", group) for rank, group in enumerate(groups)]


def pairwise_accuracy(scores: np.ndarray, relevance: np.ndarray) -> float:
    """Over every user (row) and item pair with different true relevance: the share the scores
    order as the truth does, score ties counting half."""
    true_order = np.sign(relevance[:, :, None] - relevance[:, None, :])
    score_order = np.sign(scores[:, :, None] - scores[:, None, :])
    pairs = true_order != 0
    if not pairs.any():
        return float("nan")
    agreement = np.where(score_order == true_order, 1.0, np.where(score_order == 0, 0.5, 0.0))
    return float(agreement[pairs].mean())
