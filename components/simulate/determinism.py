"""What lets any day, and any chunk of a day, be generated on its own and come out the same.

Nothing is shared between chunks: randomness comes from streams keyed by (seed, purpose, day,
chunk), decisions that must survive re-chunking are hashes of ids, ids are laid out by (day,
chunk) instead of drawn from a counter, and time is integer microseconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import IntEnum

import numpy as np

DAY_US = 86_400 * 1_000_000  # the ``ts`` column's unit: microseconds since the epoch, UTC


def epoch_us(day: date) -> int:
    """Midnight UTC starting ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


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


# Event and request ids: ``day.toordinal() * DAY_STRIDE + chunk * CHUNK_STRIDE + counter``, so a
# chunk numbers its own rows and an id tells the day its event happened.
DAY_STRIDE = 10**12
CHUNK_STRIDE = 10**8


def make_ids(day: date, chunk: int, count: int) -> np.ndarray:
    if count > CHUNK_STRIDE or not 0 <= chunk < DAY_STRIDE // CHUNK_STRIDE:
        raise ValueError(f"chunk {chunk} with {count:,} rows does not fit the id layout")
    base = day.toordinal() * DAY_STRIDE + chunk * CHUNK_STRIDE
    return np.arange(base, base + count, dtype=np.int64)
