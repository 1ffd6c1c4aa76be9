"""Item vectors, the input of quantization, and the interface of their two sources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

Tensors = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class ItemVectors:
    item_ids: np.ndarray  # int64, ascending: the catalog's items
    matrix: np.ndarray  # float32 (items, dim), rows of unit length
    without_signal: int  # items with no text or interactions, given a stand-in vector
    counts: dict[str, int] = field(default_factory=dict)  # source-specific, for the report


class ItemFeatures(Protocol):
    """One source of item vectors (text or collaborative) for one catalog snapshot."""

    @property
    def source(self) -> str:
        """Names the vector space, e.g. ``text/all-MiniLM-L6-v2``: a change forces a refit."""
        ...

    def fit_basis(self, seed: int) -> Tensors:
        """State that fixes the vector space; stored with the codebook (may be empty)."""
        ...

    def vectors(self, basis: Tensors) -> ItemVectors:
        """Every catalog item's vector, in the space fixed by ``basis``."""
        ...


def stand_ins(item_ids: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Unit vectors drawn from each item's id, for items with no text or no interactions.

    They carry no meaning, but spread such items over the codebook like any other item
    instead of piling them onto one code, and an item's stand-in never changes.
    """
    rows = [np.random.default_rng([seed, int(item)]).standard_normal(dim) for item in item_ids]
    return normalize_rows(np.array(rows, dtype=np.float32).reshape(-1, dim))


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1), dtype=np.float32)


def fill_missing(
    item_ids: np.ndarray,
    matrix: np.ndarray,
    missing: np.ndarray,
    seed: int,
    counts: dict[str, int] | None = None,
) -> ItemVectors:
    """Unit rows of ``matrix``, with stand-ins in the rows flagged ``missing``."""
    filled = normalize_rows(matrix)
    filled[missing] = stand_ins(item_ids[missing], matrix.shape[1], seed)
    return ItemVectors(item_ids, filled, int(np.count_nonzero(missing)), counts or {})
