"""Independent random streams keyed by (seed, purpose, ...), so any day regenerates on its own."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    TAXONOMY = 0
    USERS = 1
    INITIAL_ITEMS = 2
    NEW_ITEMS = 3  # keyed by day
    POLICY = 4
    TRAFFIC = 5  # keyed by day and chunk
    REPLAY_TIMES = 6
    REPLAY_SLATES = 7  # keyed by day


def rng_for(seed: int, stream: Stream, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream), *key)))
