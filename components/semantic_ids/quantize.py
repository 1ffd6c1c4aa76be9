"""Residual quantization with k-means (RQ-KMeans): level l clusters what levels < l left over.

Full (Lloyd) k-means with k-means++ seeding rather than mini-batch k-means: it spreads the items
evenly over each level's codes, where mini-batches leave whole regions to few codes and so make
more collisions (measured in docs/experiments.md, "Semantic IDs").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

_CHUNK_ROWS = 16_384  # bounds the (rows x codebook size) distance matrix in memory


class Quantizer(Protocol):
    """Maps whitened vectors to one code per level; what a codebook version stores."""

    kind: ClassVar[str]

    @property
    def levels(self) -> int: ...

    @property
    def size(self) -> int: ...

    def codes(self, vectors: np.ndarray) -> np.ndarray:
        """(n, levels) int32 codes, chosen greedily level by level."""
        ...

    def error(self, vectors: np.ndarray) -> float:
        """Mean squared distance to the nearest first-level code: how well the codebook covers
        the items, the drift signal for refits. (The deeper levels of a small catalog fit its
        items almost exactly, so the full error is ~0 at the fit and says nothing about drift.)
        """
        ...

    def tensors(self) -> dict[str, np.ndarray]: ...


def nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for every point (squared Euclidean distance)."""
    squared_norms = np.einsum("kd,kd->k", centroids, centroids)
    out = np.empty(len(points), dtype=np.int32)
    for start in range(0, len(points), _CHUNK_ROWS):
        chunk = points[start : start + _CHUNK_ROWS]
        out[start : start + _CHUNK_ROWS] = np.argmin(squared_norms - 2 * chunk @ centroids.T, 1)
    return out


@dataclass(frozen=True)
class RqKMeans:
    kind: ClassVar[str] = "rq-kmeans"
    centroids: np.ndarray  # (levels, size, dim)

    @property
    def levels(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def size(self) -> int:
        return int(self.centroids.shape[1])

    def codes(self, vectors: np.ndarray) -> np.ndarray:
        residual = vectors.astype(np.float32, copy=True)
        codes = np.empty((len(vectors), self.levels), dtype=np.int32)
        for level, centroids in enumerate(self.centroids):
            codes[:, level] = nearest(residual, centroids)
            residual -= centroids[codes[:, level]]
        return codes

    def error(self, vectors: np.ndarray) -> float:
        first = self.centroids[0]
        residual = vectors - first[nearest(vectors, first)]
        return float(np.mean(np.sum(residual.astype(np.float64) ** 2, axis=1)))

    @classmethod
    def fit(cls, vectors: np.ndarray, levels: int, size: int, seed: int) -> RqKMeans:
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        residual = vectors.astype(np.float32, copy=True)
        codebooks = []
        for level in range(levels):
            kmeans = KMeans(size, init="k-means++", n_init=1, random_state=seed + level)
            with warnings.catch_warnings():
                # Items alone in their cluster leave identical (zero) residuals, so a deep level
                # may see fewer distinct points than codes; the surplus centroids stay unused.
                warnings.simplefilter("ignore", ConvergenceWarning)
                centroids = kmeans.fit(residual).cluster_centers_.astype(np.float32)
            residual -= centroids[nearest(residual, centroids)]
            codebooks.append(centroids)
        return cls(np.stack(codebooks))

    def tensors(self) -> dict[str, np.ndarray]:
        return {"centroids": self.centroids}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> RqKMeans:
        return cls(tensors["centroids"])
