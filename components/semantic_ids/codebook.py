"""A codebook: everything that turns an item vector into its codes, stored as safetensors.

It chains the vector space's fitted state (the collaborative SVD basis; nothing for text), PCA
whitening (centring only unless ``whiten_dim`` is set) and a residual quantizer. Tensor names
carry their part as a prefix (``basis.``, ``whitening.``, ``rq-kmeans.`` or ``rq-vae.``), so the
file describes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from components.core.config import SemanticIdConfig
from components.core.errors import BadInput
from components.semantic_ids.quantize import Quantizer, RqKMeans
from components.semantic_ids.vectors import Tensors
from components.semantic_ids.whitening import Whitening

if TYPE_CHECKING:
    from components.semantic_ids.rqvae import RqVae

# First-level codes should average at least two items: with one, every centroid sits on an item
# and the deeper levels have nothing left to split. Small catalogs therefore get smaller
# codebooks (the tiny simulated shop's 154 items get 77 codes a level).
MIN_ITEMS_PER_CODE = 2


def codes_per_level(requested: int, distinct_vectors: int) -> int:
    """The configured codebook size, clamped to what the number of distinct items supports."""
    return max(2, min(requested, distinct_vectors // MIN_ITEMS_PER_CODE))


@dataclass(frozen=True)
class Codebook:
    basis: Tensors
    whitening: Whitening
    quantizer: Quantizer

    @property
    def levels(self) -> int:
        return self.quantizer.levels

    @property
    def size(self) -> int:
        return self.quantizer.size

    def codes(self, vectors: np.ndarray) -> np.ndarray:
        return self.quantizer.codes(self.whitening(vectors))

    def error(self, vectors: np.ndarray) -> float:
        return self.quantizer.error(self.whitening(vectors))

    def to_bytes(self) -> bytes:
        from safetensors.numpy import save

        parts = {
            "basis": self.basis,
            "whitening": self.whitening.tensors(),
            self.quantizer.kind: self.quantizer.tensors(),
        }
        return save(
            {
                f"{part}.{name}": np.ascontiguousarray(value)
                for part, tensors in parts.items()
                for name, value in tensors.items()
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Codebook:
        from safetensors.numpy import load

        parts: dict[str, dict[str, np.ndarray]] = {}
        for key, value in load(data).items():
            part, _, name = key.partition(".")
            parts.setdefault(part, {})[name] = value
        basis, whitening = parts.pop("basis", {}), parts.pop("whitening")
        ((kind, tensors),) = parts.items()
        return cls(
            basis, Whitening.from_tensors(whitening), _quantizer_class(kind).from_tensors(tensors)
        )


def fit_codebook(vectors: np.ndarray, basis: Tensors, settings: SemanticIdConfig) -> Codebook:
    distinct = len(np.unique(vectors, axis=0))
    if distinct < 2:
        raise BadInput("a codebook needs at least two items with distinct vectors")
    whitening = Whitening.fit(vectors, settings.whiten_dim)
    size = codes_per_level(settings.codebook_size, distinct)
    quantizer = _quantizer_class(settings.quantizer).fit(
        whitening(vectors), settings.levels, size, settings.seed
    )
    return Codebook(basis, whitening, quantizer)


def _quantizer_class(kind: str) -> type[RqKMeans] | type[RqVae]:
    if kind == RqKMeans.kind:
        return RqKMeans
    if kind == "rq-vae":
        from components.semantic_ids.rqvae import RqVae  # loads torch: only when asked for

        return RqVae
    raise ValueError(f"unknown quantizer {kind!r}")
