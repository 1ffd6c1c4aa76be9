"""PCA whitening: decorrelate and rescale item vectors before residual quantization.

Raw sentence embeddings concentrate their variance in a few directions, so k-means spends its
centroids there and items that differ along the quiet directions collide. Whitening the top
``dim`` principal directions to unit variance spreads the items evenly over the codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Directions whose variance is below this share of the largest carry only numerical noise;
# rescaling them to unit variance would amplify that noise into the codes.
_MIN_RELATIVE_VARIANCE = 1e-6


@dataclass(frozen=True)
class Whitening:
    mean: np.ndarray  # (input_dim,)
    projection: np.ndarray  # (input_dim, output_dim): principal directions / their std

    @property
    def output_dim(self) -> int:
        return int(self.projection.shape[1])

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        return np.asarray((vectors - self.mean) @ self.projection, dtype=np.float32)

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int | None) -> Whitening:
        """Whiten the top ``dim`` directions; ``None`` keeps every direction unscaled."""
        data = vectors.astype(np.float64)
        mean = data.mean(axis=0)
        if dim is None:
            return cls(mean.astype(np.float32), np.eye(data.shape[1], dtype=np.float32))
        variances, directions = np.linalg.eigh(np.cov(data - mean, rowvar=False))
        order = np.argsort(variances)[::-1]
        variances, directions = variances[order], directions[:, order]
        usable = int(np.sum(variances > _MIN_RELATIVE_VARIANCE * variances[0]))
        keep = max(1, min(dim, usable))
        variances, directions = variances[:keep], directions[:, :keep]
        # eigh returns each direction up to its sign; fixing it makes fits reproducible.
        signs = np.sign(directions[np.abs(directions).argmax(axis=0), np.arange(keep)])
        projection = directions * signs / np.sqrt(variances)
        return cls(mean.astype(np.float32), projection.astype(np.float32))

    def tensors(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "projection": self.projection}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> Whitening:
        return cls(tensors["mean"], tensors["projection"])
