"""The paired bootstrap: a confidence interval for the mean per-user difference of two models
scored on the same users, resampling users (not models) so that the pairing is kept."""

from __future__ import annotations

from typing import Any

import numpy as np

CHUNK = 64  # resamples drawn at a time: bounds memory at CHUNK x users indices


def paired_bootstrap(
    differences: np.ndarray, samples: int, seed: int, confidence: float = 0.95
) -> dict[str, Any]:
    """The mean of ``differences`` (one per user) and its percentile interval over ``samples``
    resamples of the users with replacement, from a generator seeded by ``seed``."""
    if len(differences) == 0:
        raise ValueError("no users to compare")
    rng = np.random.default_rng(seed)
    means = np.empty(samples)
    for start in range(0, samples, CHUNK):
        count = min(CHUNK, samples - start)
        users = rng.integers(0, len(differences), (count, len(differences)))
        means[start : start + count] = differences[users].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {
        "mean": float(differences.mean()),
        "low": float(low),
        "high": float(high),
        "confidence": confidence,
        "samples": samples,
        "seed": seed,
        "users": len(differences),
    }
