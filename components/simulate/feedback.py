"""How users respond to a slate: the hidden truth that the logs are sampled from.

A user examines slot ``k`` with probability ``k ** -examination_decay`` and clicks an examined
item with its true relevance ``sigmoid(affinity_scale * user.latent . item.latent +
item.quality + relevance_bias)``; a click turns into a purchase and into dwell time more often
and longer the more relevant the item is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RELEVANCE_FORMULA = (
    "sigmoid(affinity_scale * dot(user.latent, item.latent) + item.quality + relevance_bias)"
)


@dataclass(frozen=True)
class Responses:
    clicked: np.ndarray
    purchased: np.ndarray
    dwell_ms: np.ndarray  # 0 unless clicked


@dataclass(frozen=True)
class FeedbackModel:
    affinity_scale: float = 3.0
    relevance_bias: float = -4.0
    examination_decay: float = 0.8
    purchase_rate: float = 0.4  # P(purchase | click) = purchase_rate * relevance
    dwell_log_ms: float = 9.0  # median dwell of a click on an irrelevant item: e^9 ms ~ 8 s
    dwell_relevance_gain: float = 1.5  # relevance 1 multiplies the median dwell by e^1.5
    dwell_sigma: float = 0.7

    def relevance(
        self, user_latent: np.ndarray, item_latent: np.ndarray, item_quality: np.ndarray
    ) -> np.ndarray:
        """True click probability once examined; users (n, d), items (n, slots, d)."""
        affinity = np.einsum("nd,nkd->nk", user_latent, item_latent)
        logit = self.affinity_scale * affinity + item_quality + self.relevance_bias
        return np.asarray(1.0 / (1.0 + np.exp(-logit)))

    def examination(self, slots: int) -> np.ndarray:
        """Probability that a user looks at each position 1..slots."""
        return np.arange(1, slots + 1, dtype=np.float64) ** -self.examination_decay

    def respond(
        self, rng: np.random.Generator, relevance: np.ndarray, shown: np.ndarray
    ) -> Responses:
        """Clicks, purchases and dwell for slates (rows) of shown items, best slot first."""
        click_p = self.examination(relevance.shape[1]) * relevance
        clicked = shown & (rng.random(relevance.shape) < click_p)
        purchased = clicked & (rng.random(relevance.shape) < self.purchase_rate * relevance)
        dwell = np.where(clicked, self.dwell_ms(rng, relevance), 0)
        return Responses(clicked, purchased, dwell)

    def dwell_ms(self, rng: np.random.Generator, relevance: np.ndarray) -> np.ndarray:
        log_ms = self.dwell_log_ms + self.dwell_relevance_gain * relevance
        dwell = np.exp(log_ms + self.dwell_sigma * rng.standard_normal(relevance.shape))
        return np.maximum(dwell.astype(np.int64), 1)
