"""The shop's production recommender, whose biases the logs inherit.

Per request it draws a candidate pool by popularity (never scoring the whole catalog), scores
each candidate with log popularity plus a coarse, noisy guess of the user's taste, and shows
the best distinct candidates as a slate. The score it logs is the score it ranked by. A share of
the requests (an exploration bucket) gets a slate of uniformly random items instead, logged
with the random scores it was ordered by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.simulate.sampling import WeightedSampler


@dataclass(frozen=True)
class PolicyParams:
    slate_size: int = 10
    pool_size: int = 200
    popularity_alpha: float = 0.5  # candidates are drawn with probability ~ popularity ** alpha
    popularity_weight: float = 0.5  # weight of log popularity in the score
    personalization_weight: float = 3.0
    affinity_noise: float = 0.3  # error of the policy's estimate of a user's category affinity
    score_noise: float = 0.3  # per-candidate noise: model error and exploration
    random_share: float = 0.0  # share of requests shown uniformly random items


@dataclass(frozen=True)
class Slates:
    """Slates as rows, best slot first."""

    items: np.ndarray  # (requests, slate_size) indices into the candidates' item arrays
    scores: np.ndarray
    shown: np.ndarray  # False past the end of a slate whose pool had too few distinct items
    experiment_id: np.ndarray | None = None  # (requests,) who served each slate, when known
    arm: np.ndarray | None = None


def affinity_estimate(
    rng: np.random.Generator, user_latent: np.ndarray, centroids: np.ndarray, noise: float
) -> np.ndarray:
    """The production model's view of taste: one noisy affinity per (user, category)."""
    affinity = user_latent @ centroids.T
    affinity += rng.standard_normal(affinity.shape, dtype=np.float32) * np.float32(noise)
    return affinity


def top_distinct(candidates: np.ndarray, scores: np.ndarray, slate_size: int) -> Slates:
    """The ``slate_size`` best-scored distinct candidates of each row, best first.

    An item drawn several times into a pool is one candidate, scored by one of its copies.
    Non-finite scores mark candidates that must not be shown; a row with too few left gives a
    short slate.
    """
    by_item = np.argsort(candidates, axis=1)
    items = np.take_along_axis(candidates, by_item, 1)
    item_scores = np.take_along_axis(scores, by_item, 1)
    repeated = np.zeros(items.shape, dtype=bool)
    repeated[:, 1:] = items[:, 1:] == items[:, :-1]
    item_scores[repeated] = -np.inf
    width = min(slate_size, item_scores.shape[1])
    best = np.argpartition(-item_scores, width - 1, axis=1)[:, :width]
    best = np.take_along_axis(best, np.argsort(-np.take_along_axis(item_scores, best, 1), 1), 1)
    best_scores = np.take_along_axis(item_scores, best, 1)
    return Slates(
        items=np.take_along_axis(items, best, 1),
        scores=best_scores,
        shown=np.isfinite(best_scores),
    )


class ProductionPolicy:
    """The policy on one day: popularity changes daily as new items arrive and warm up."""

    def __init__(
        self,
        params: PolicyParams,
        affinity: np.ndarray,
        item_category: np.ndarray,
        popularity: np.ndarray,
    ) -> None:
        self.params = params
        self.affinity = affinity
        self.item_category = item_category
        self.log_popularity = np.log(popularity)
        self.sampler = WeightedSampler(popularity**params.popularity_alpha)

    def show(self, rng: np.random.Generator, users: np.ndarray) -> Slates:
        params = self.params
        # With replacement: popular items come up often, and top_distinct merges the copies.
        pools = self.sampler.draw(rng, (len(users), params.pool_size))
        personal = self.affinity[users[:, None], self.item_category[pools]]
        noise = rng.standard_normal(pools.shape, dtype=np.float32) * np.float32(params.score_noise)
        scores = (
            params.popularity_weight * self.log_popularity[pools]
            + params.personalization_weight * personal
            + noise
        )
        slates = top_distinct(pools, scores, params.slate_size)
        if params.random_share > 0:
            slates = self._explore(rng, slates, rng.random(len(users)) < params.random_share)
        return slates

    def _explore(self, rng: np.random.Generator, slates: Slates, rows: np.ndarray) -> Slates:
        """``slates`` with the slates of ``rows`` replaced by uniformly random distinct items."""
        width = slates.items.shape[1]
        pools = rng.integers(0, len(self.log_popularity), (int(rows.sum()), 2 * width))
        random = top_distinct(pools, rng.random(pools.shape), width)
        items, scores, shown = slates.items.copy(), slates.scores.copy(), slates.shown.copy()
        items[rows], scores[rows], shown[rows] = random.items, random.scores, random.shown
        return Slates(items=items, scores=scores, shown=shown)
