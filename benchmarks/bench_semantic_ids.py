"""Benchmark: MiniLM embedding speed, RQ-KMeans fit time at 100k items, and the quality of the
SIDs of the real Amazon Beauty catalog (collisions, de-dup depth, code utilization).

The Beauty part runs the whole stage (embedding cache, codebook, published map and report) on
the real titles when the data is present; a fresh clone without it skips that part.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from components.core.config import SemanticIdConfig
from components.core.layout import RAW_CATALOG, partition
from components.core.partitions import publish
from components.core.schemas import CATALOG
from components.core.storage import LocalStorage
from components.semantic_ids.codebook import fit_codebook
from components.semantic_ids.codes import code_stats, dedup_indices
from components.semantic_ids.text import SentenceTransformerEmbedder
from components.semantic_ids.vectors import normalize_rows

DAY = date(2026, 11, 1)


def run(workdir: Path, beauty: Path | None) -> dict[str, Any]:
    embedder = SentenceTransformerEmbedder()
    results: dict[str, Any] = {
        "embedding": embed_throughput(embedder, simulated_titles(2_000)),
        "rq_kmeans_100k": rq_kmeans_fit(100_000),
    }
    if beauty is not None:
        results["beauty"] = beauty_sids(workdir / "beauty", beauty, embedder)
    return results


def simulated_titles(count: int) -> list[str]:
    from components.simulate.catalog import catalog_table
    from components.simulate.scales import SCALES
    from components.simulate.world import build_world

    world = build_world(SCALES["demo"], seed=7, start=DAY, days=1)
    return catalog_table(world)["title"].to_pylist()[:count]


def embed_throughput(embedder: SentenceTransformerEmbedder, titles: list[str]) -> dict[str, Any]:
    embedder.encode(titles[:32])  # loads the model and warms it up outside the clock
    started = time.perf_counter()
    embedder.encode(titles)
    seconds = time.perf_counter() - started
    return {
        "titles": len(titles),
        "seconds": round(seconds, 2),
        "items_per_s": round(len(titles) / seconds),
    }


def clustered_vectors(
    count: int, dim: int = 384, clusters: int = 2_000, seed: int = 0
) -> np.ndarray:
    """Unit vectors around random topic centres: shaped like embeddings, for timing only (their
    isotropic noise says nothing about the collisions of real embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    noise = 0.6 * rng.standard_normal((count, dim)).astype(np.float32)
    return normalize_rows(centres[rng.integers(0, clusters, count)] + noise)


def rq_kmeans_fit(count: int) -> dict[str, Any]:
    """Whitening + RQ-KMeans with the default settings, as a refit of a large catalog runs."""
    vectors = clustered_vectors(count)
    started = time.perf_counter()
    codebook = fit_codebook(vectors, {}, SemanticIdConfig())
    fitted = time.perf_counter()
    codebook.codes(vectors)
    assigned = time.perf_counter()
    return {
        "items": count,
        "dim": vectors.shape[1],
        "codes_per_level": codebook.size,
        "fit_s": round(fitted - started, 2),
        "assign_items_per_s": round(count / (assigned - fitted)),
    }


def beauty_sids(root: Path, beauty: Path, embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    """Publish the Beauty catalog, run the stage on it, and read its report."""
    from components.semantic_ids.stage import build_semantic_ids
    from components.semantic_ids.text import TextFeatures
    from components.simulate.replay_input import load_source

    shutil.rmtree(root, ignore_errors=True)  # a warm embedding cache would skip the embedding
    storage = LocalStorage(root)
    items = load_source(beauty / "Beauty.txt", beauty / "item_titles.tsv").items
    catalog = pa.table(
        {
            "item_id": items.item_ids,
            "title": items.titles,
            "category": items.categories,
            "brand": items.brands,
            "price": np.zeros(len(items.item_ids)),
            "created_at": np.full(len(items.item_ids), datetime(2014, 1, 1, tzinfo=UTC)),
        },
        schema=CATALOG,
    )
    staging = storage.staging_key("bench")
    storage.write_parquet(f"{staging}/catalog.parquet", catalog)
    publish(storage, staging, partition(RAW_CATALOG, DAY), {"rows": catalog.num_rows})

    config = SemanticIdConfig()
    started = time.perf_counter()
    result = build_semantic_ids(storage, DAY, config, embedder=embedder)
    seconds = time.perf_counter() - started
    report = result.report
    # The same vectors, now cached, under other whitening sizes: the knob collisions hinge on.
    vectors = TextFeatures(storage, catalog, DAY, embedder, config.seed).vectors({}).matrix
    sweep = {}
    for whiten_dim in (None, 16, 32, 64):
        codebook = fit_codebook(vectors, {}, config.model_copy(update={"whiten_dim": whiten_dim}))
        codes = codebook.codes(vectors)
        stats = code_stats(codes, dedup_indices(codes, config.codebook_size), codebook.size)
        sweep[str(whiten_dim)] = {
            "collision_rate": round(stats.collision_rate, 4),
            "max_dedup_index": stats.max_dedup_index,
        }
    return {
        "items": report["items"]["in_map"],
        "stage_s": round(seconds, 1),
        "stage_items_per_s": round(report["items"]["in_map"] / seconds),
        "stand_ins": report["vectors"]["stand_ins"],
        "codes_per_level": report["codes_per_level"],
        "collision_rate": report["collision_rate"],
        "max_dedup_index": report["max_dedup_index"],
        "utilization": report["utilization"],
        "whiten_dim_sweep": sweep,
        "report": str(root / result.map_key / "report.html"),
    }


if __name__ == "__main__":
    data = Path(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bench-semantic-ids-") as tmp:
        print(json.dumps(run(Path(tmp), data), indent=2))
