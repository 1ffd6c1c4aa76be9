"""Weighted draws in constant time per draw, for pools of millions of candidates a day."""

from __future__ import annotations

import numpy as np


class WeightedSampler:
    """Draws indices ``i`` with probability ``weights[i] / weights.sum()``, exactly.

    Most of the mass sits in a lookup table where index ``i`` fills ``floor(p_i * size)`` slots,
    so a draw is one random number and one read. The leftover fractions of slots are drawn by
    binary search, which keeps the distribution exact and costs little: they hold at most
    ``1 / slots_per_index`` of the mass. More slots per index buy speed with memory.
    """

    def __init__(self, weights: np.ndarray, slots_per_index: int = 16) -> None:
        total = float(weights.sum())
        if not np.isfinite(total) or total <= 0 or (weights < 0).any():
            raise ValueError("weights must be non-negative, finite and not all zero")
        self._size = slots_per_index * len(weights)
        scaled = weights * (self._size / total)
        slots = np.floor(scaled).astype(np.int64)
        self._table = np.repeat(np.arange(len(weights), dtype=np.int32), slots)
        self._leftover_cdf = np.cumsum(scaled - slots)
        self._last = len(weights) - 1

    def draw(self, rng: np.random.Generator, shape: int | tuple[int, ...]) -> np.ndarray:
        position = rng.random(shape) * self._size
        slot = position.astype(np.int64)
        np.minimum(slot, len(self._table) - 1, out=slot)  # never empty: the slots sum to ~size
        drawn = self._table[slot]
        leftover = np.flatnonzero(position >= len(self._table))
        found = np.searchsorted(self._leftover_cdf, position.flat[leftover] - len(self._table))
        drawn.flat[leftover] = np.minimum(found, self._last)  # float rounding at the very end
        return drawn
