"""When requests arrive, from whom and on which surface.

A day is cut into consecutive time slices of equal expected traffic, one per chunk: each chunk
draws its own requests, so chunks are independent and still in time order across part files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from components.simulate.determinism import DAY_US
from components.simulate.sampling import WeightedSampler

SURFACES = pa.array(["home", "search", "product_page"])
SURFACE_SHARES = np.array([0.5, 0.3, 0.2])

# Relative traffic per UTC hour: quiet nights, a lunch bump and an evening peak.
HOURLY_TRAFFIC = np.array(
    [2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 6, 7, 8, 10, 10, 9, 6, 4], dtype=np.float64
)
_HOUR_EDGES_US = np.arange(25) * (DAY_US // 24)
_TRAFFIC_CDF = np.concatenate([[0.0], np.cumsum(HOURLY_TRAFFIC) / HOURLY_TRAFFIC.sum()])


@dataclass(frozen=True)
class Requests:
    users: np.ndarray  # user indices
    ts_us: np.ndarray  # non-decreasing
    surface: np.ndarray  # indices into SURFACES

    def __len__(self) -> int:
        return len(self.users)

    def batches(self, size: int) -> Iterator[Requests]:
        for first in range(0, len(self), size):
            window = slice(first, first + size)
            yield Requests(self.users[window], self.ts_us[window], self.surface[window])


def time_of_day_us(quantiles: np.ndarray) -> np.ndarray:
    """Map quantiles of a day's traffic to microseconds after midnight (inverse CDF)."""
    offsets = np.interp(quantiles, _TRAFFIC_CDF, _HOUR_EDGES_US).astype(np.int64)
    return np.minimum(offsets, DAY_US - 1)  # a quantile a hair below 1 may round up to midnight


def sample_surfaces(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.choice(len(SURFACES), count, p=SURFACE_SHARES).astype(np.int8)


def chunk_count(expected_events: float, chunk_events: int) -> int:
    return max(1, math.ceil(expected_events / chunk_events))


def sample_requests(
    rng: np.random.Generator,
    users: WeightedSampler,
    expected_requests: float,
    day_start_us: int,
    chunk: int,
    chunks: int,
) -> Requests:
    """The requests of time slice ``chunk`` of ``chunks``; users drawn by their activity."""
    count = int(rng.poisson(expected_requests / chunks))
    quantiles = (chunk + np.sort(rng.random(count))) / chunks
    return Requests(
        users=users.draw(rng, count),
        ts_us=day_start_us + time_of_day_us(quantiles),
        surface=sample_surfaces(rng, count),
    )
