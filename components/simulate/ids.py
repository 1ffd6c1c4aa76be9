"""Event and request ids: unique across days and chunks without any shared counter.

``id = day.toordinal() * 10**12 + chunk * 10**8 + counter``: a chunk numbers its own rows, so
chunks and days are generated independently, and an id tells the day its event happened.
"""

from __future__ import annotations

from datetime import date

import numpy as np

DAY_STRIDE = 10**12
CHUNK_STRIDE = 10**8


def make_ids(day: date, chunk: int, count: int) -> np.ndarray:
    if count > CHUNK_STRIDE or not 0 <= chunk < DAY_STRIDE // CHUNK_STRIDE:
        raise ValueError(f"chunk {chunk} with {count:,} rows does not fit the id layout")
    base = day.toordinal() * DAY_STRIDE + chunk * CHUNK_STRIDE
    return np.arange(base, base + count, dtype=np.int64)
