"""Stable pseudo-random numbers derived from ids, for decisions that must not depend on chunking."""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def hash_unit(ids: np.ndarray, salt: int) -> np.ndarray:
    """One uniform number in [0, 1) per id, fixed by the id and ``salt`` (splitmix64)."""
    x = ids.astype(np.uint64) + np.full(ids.shape, salt, np.uint64) * _GOLDEN
    x ^= x >> np.uint64(30)
    x *= _MIX_1
    x ^= x >> np.uint64(27)
    x *= _MIX_2
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53
