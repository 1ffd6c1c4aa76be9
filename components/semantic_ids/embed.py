"""Text vectors for catalog items, with an embedding cache keyed by a hash of each item's text.

The cache holds one parquet shard per run (``embeddings/<model>/dt=<ds>/part-<digest>.parquet``
with ``text_hash, vector``), so a daily run embeds only items that are new or whose text changed.
A shard's name derives from the hashes it holds: a rerun rewrites the same shard, never a
second copy, and a vector is valid for its text whichever run wrote it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.core.layout import EMBEDDINGS, partition
from components.core.storage import Storage
from components.semantic_ids.embedder import Embedder
from components.semantic_ids.vectors import ItemVectors, Tensors, fill_missing

log = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "brand", "category", "description")  # description when the catalog has it


def item_texts(catalog: pa.Table) -> list[str]:
    """``title. Brand: b. Category: c. description``, leaving out empty fields."""
    columns = {
        name: catalog[name].fill_null("").to_pylist()
        for name in TEXT_FIELDS
        if name in catalog.column_names
    }
    labels = {"brand": "Brand: ", "category": "Category: "}
    return [
        ". ".join(
            labels.get(name, "") + values[row].strip()
            for name, values in columns.items()
            if values[row].strip()
        )
        for row in range(catalog.num_rows)
    ]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class TextFeatures:
    """Text embeddings of one catalog snapshot; the embedder runs only on cache misses."""

    def __init__(
        self, storage: Storage, catalog: pa.Table, ds: date, embedder: Embedder, seed: int
    ) -> None:
        self.storage, self.catalog, self.ds = storage, catalog, ds
        self.embedder, self.seed = embedder, seed

    @property
    def source(self) -> str:
        return f"text/{self.embedder.name}"

    def fit_basis(self, seed: int) -> Tensors:
        return {}  # a text model's vector space needs no fitting

    def vectors(self, basis: Tensors) -> ItemVectors:
        return self._vectors

    @cached_property
    def _vectors(self) -> ItemVectors:
        texts = item_texts(self.catalog)
        empty = np.array([not text for text in texts])
        if empty.all():
            raise ValueError(
                "every item of the catalog has empty text (title, brand, category): set "
                "semantic_ids.source=collaborative to build item vectors from the logs instead"
            )
        if empty.any():
            log.warning("%d items have no text; they get stand-in vectors", empty.sum())
        by_text, embedded = self._embed_uncached(sorted(set(texts) - {""}))
        unused = np.zeros_like(next(iter(by_text.values())))  # replaced by a stand-in
        matrix = np.stack([by_text.get(text, unused) for text in texts])
        counts = {
            "embedded": embedded,
            "cached": len(by_text) - embedded,
            "empty_text": int(empty.sum()),
        }
        return fill_missing(self.catalog["item_id"].to_numpy(), matrix, empty, self.seed, counts)

    def _embed_uncached(self, texts: list[str]) -> tuple[dict[str, np.ndarray], int]:
        """The vector of every text, and how many texts missed the cache and were embedded."""
        prefix = f"{EMBEDDINGS}/{self.embedder.name}"
        text_of = {text_hash(text): text for text in texts}
        vectors = read_cache(self.storage, prefix, list(text_of))
        missing = [key for key in text_of if key not in vectors]
        if missing:
            log.info("embedding %d new or changed texts (%d cached)", len(missing), len(vectors))
            embedded = self.embedder.encode([text_of[key] for key in missing])
            write_shard(self.storage, partition(prefix, self.ds), missing, embedded)
            vectors.update(zip(missing, embedded, strict=True))
        return {text_of[key]: vector for key, vector in vectors.items()}, len(missing)


def read_cache(storage: Storage, prefix: str, wanted: list[str]) -> dict[str, np.ndarray]:
    """The cached vectors of the ``wanted`` hashes that any shard below ``prefix`` holds."""
    if not storage.list_keys(prefix):
        return {}
    table = storage.read_parquet(prefix)
    table = table.filter(pc.is_in(table["text_hash"], pa.array(wanted, pa.string())))
    dim = table.schema.field("vector").type.list_size
    vectors = pc.list_flatten(table["vector"]).to_numpy().reshape(-1, dim).astype(np.float32)
    return dict(zip(table["text_hash"].to_pylist(), vectors, strict=True))


def write_shard(storage: Storage, folder: str, hashes: list[str], vectors: np.ndarray) -> None:
    digest = hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()[:16]
    flat = pa.array(vectors.astype(np.float32).ravel())
    table = pa.table(
        {
            "text_hash": pa.array(hashes, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
        }
    )
    storage.write_parquet(f"{folder}/part-{digest}.parquet", table)
