"""The shop's category and brand structure, drawn once per seed from the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import pyarrow as pa

from components.simulate.vocabulary import BRAND_PREFIXES, BRAND_SUFFIXES, CATEGORIES

BRANDS_PER_CATEGORY = 8


@dataclass(frozen=True)
class Taxonomy:
    names: pa.Array  # category names
    weights: np.ndarray  # share of the catalog in each category
    centroids: np.ndarray  # (categories, latent_dim) unit taste direction of each category
    typical_price: np.ndarray
    nouns: pa.Array  # all categories' nouns; category c owns noun_start[c] : + noun_count[c]
    noun_start: np.ndarray
    noun_count: np.ndarray
    brand_names: pa.Array  # brand b of category c is entry c * BRANDS_PER_CATEGORY + b
    brand_quality: np.ndarray

    @property
    def size(self) -> int:
        return len(self.names)


def build_taxonomy(rng: np.random.Generator, latent_dim: int, brand_quality_sd: float) -> Taxonomy:
    names, prices, nouns = zip(*CATEGORIES, strict=True)
    noun_count = np.array([len(words) for words in nouns])
    centroids = rng.standard_normal((len(names), latent_dim))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    combos = ["".join(pair) for pair in product(BRAND_PREFIXES, BRAND_SUFFIXES)]
    picked = rng.permutation(len(combos))[: len(names) * BRANDS_PER_CATEGORY]
    return Taxonomy(
        names=pa.array(names),
        weights=rng.dirichlet(np.full(len(names), 4.0)),
        centroids=centroids.astype(np.float32),
        typical_price=np.array(prices),
        nouns=pa.array([word for words in nouns for word in words]),
        noun_start=np.cumsum(noun_count) - noun_count,
        noun_count=noun_count,
        brand_names=pa.array([combos[i] for i in picked]),
        brand_quality=rng.normal(0.0, brand_quality_sd, len(picked)),
    )
