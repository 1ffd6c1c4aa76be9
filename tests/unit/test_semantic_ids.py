"""Semantic IDs: unique and stable SIDs, versioned refits, past days, the embedding cache, both
vector sources, both quantizers, and clear errors on bad input. A fake embedder stands in for
MiniLM (tests/integration/test_semantic_ids_minilm.py covers the real model)."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from components.cli import main
from components.core import layout, partitions
from components.core.config import SemanticIdConfig
from components.core.partitions import PartitionNotPublished
from components.core.schemas import CATALOG, CURATED_EXPOSURE
from components.core.storage import LocalStorage, Storage
from components.semantic_ids import store
from components.semantic_ids.api import SidMap, SidMapNotFound, load_sid_map
from components.semantic_ids.codebook import Codebook, codes_per_level, fit_codebook
from components.semantic_ids.codes import DedupOverflow, dedup_indices
from components.semantic_ids.collaborative import CollaborativeFeatures
from components.semantic_ids.stage import SidRun, build_semantic_ids
from components.semantic_ids.text import (
    MAX_CACHE_SHARDS,
    SentenceTransformerEmbedder,
    TextFeatures,
    item_texts,
)
from components.semantic_ids.vectors import normalize_rows
from components.semantic_ids.whitening import Whitening
from components.simulate.scales import SCALES
from components.simulate.stage import simulate
from components.validate.gate import PartitionFailedValidation
from components.validate.result import result_key
from tests.factories import at, exposure

DAY1 = date(2026, 11, 1)
DAY2, DAY3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)
REPORT_FILES = ("report.json", "report.html")


class FakeEmbedder:
    """Bag of hashed words: instant, deterministic, and titles sharing words come out close."""

    name = "fake-bow"

    def __init__(self, dim: int = 48) -> None:
        self.dim = dim
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return normalize_rows(
            np.stack([sum(self._word(word) for word in text.lower().split()) for text in texts])
        )

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny shop's catalog snapshots: 154, 158 and 162 items on three days."""
    root = tmp_path_factory.mktemp("shop")
    simulate(LocalStorage(root), SCALES["tiny"], seed=7, start=DAY1)
    return root


@pytest.fixture
def storage(simulated: Path, tmp_path: Path) -> LocalStorage:
    """A root of its own for each test, holding the simulated raw data."""
    shutil.copytree(simulated / "raw", tmp_path / "root" / "raw")
    return LocalStorage(tmp_path / "root")


def run(
    storage: Storage,
    ds: date,
    embedder: FakeEmbedder | None = None,
    refit: bool = False,
    **settings: Any,
) -> SidRun:
    return build_semantic_ids(
        storage, ds, SemanticIdConfig(**settings), embedder or FakeEmbedder(), force_refit=refit
    )


def sids_of(sid_map: SidMap) -> dict[int, str]:
    return dict(
        zip(sid_map.table["item_id"].to_pylist(), sid_map.table["sid"].to_pylist(), strict=True)
    )


def catalog_ids(storage: Storage, ds: date) -> list[int]:
    return sorted(
        storage.read_parquet(layout.partition(layout.RAW_CATALOG, ds))["item_id"].to_pylist()
    )


def republish(storage: Storage, target: str, table: pa.Table) -> None:
    staging = storage.staging_key("test")
    storage.write_parquet(f"{staging}/part-0.parquet", table)
    partitions.publish(storage, staging, target, {"rows": table.num_rows})


def publish_catalog(storage: Storage, ds: date, titles: dict[int, str]) -> None:
    rows = [
        {
            "item_id": item_id,
            "title": title,
            "category": "",
            "brand": "",
            "price": 1.0,
            "created_at": at(ds),
        }
        for item_id, title in titles.items()
    ]
    republish(
        storage, layout.partition(layout.RAW_CATALOG, ds), pa.Table.from_pylist(rows, CATALOG)
    )


def publish_curated(
    storage: Storage, ds: date, positives: list[tuple[int, int]], passed: bool = True
) -> None:
    """A curated partition of clicked (user, item) pairs, with a validation verdict."""
    rows = [
        {
            **exposure(n, at(ds), user_id=user, item_id=item, clicked=True),
            "category": "",
            "brand": "",
            "price": 1.0,
            "item_age_days": 1,
        }
        for n, (user, item) in enumerate(positives)
    ]
    target = layout.partition(layout.CURATED_EXPOSURES, ds)
    republish(storage, target, pa.Table.from_pylist(rows, CURATED_EXPOSURE))
    published_at = partitions.read_manifest(storage, target)["published_at"]
    storage.write_json(
        result_key(ds),
        {"success": passed, "published_at": published_at, "failed_expectations": ["x"]},
    )


# --- SIDs: unique, stable, versioned ---------------------------------------------------------


def test_every_catalog_item_gets_a_unique_sid(storage: LocalStorage) -> None:
    run(storage, DAY1)
    sid_map = load_sid_map(storage, DAY1)
    item_ids, tokens = sid_map.tokens()

    assert item_ids.tolist() == catalog_ids(storage, DAY1)
    assert len(set(sid_map.table["sid"].to_pylist())) == len(item_ids)
    assert len({tuple(row) for row in tokens}) == len(item_ids)
    assert (sid_map.version, sid_map.tokens_per_item) == (1, 4)
    # 154 items support 77 codes a level; the de-dup token keeps the configured vocabulary.
    assert (sid_map.codes_per_level, sid_map.dedup_vocab) == (77, 256)
    assert (tokens[:, :3] < 77).all() and (tokens[:, 3] < 256).all()


def test_a_later_day_keeps_every_sid_and_assigns_only_new_items(storage: LocalStorage) -> None:
    run(storage, DAY1)
    second = run(storage, DAY2)
    third = run(storage, DAY3)

    first_sids, third_sids = (
        sids_of(load_sid_map(storage, DAY1)),
        sids_of(load_sid_map(storage, DAY3)),
    )
    assert (second.version, third.version, third.refit_reasons) == (1, 1, ())
    assert {item: third_sids[item] for item in first_sids} == first_sids
    assert sorted(third_sids) == catalog_ids(storage, DAY3)
    assert len(set(third_sids.values())) == len(third_sids)
    assert third.report["items"]["assigned_today"] == len(catalog_ids(storage, DAY3)) - len(
        catalog_ids(storage, DAY2)
    )


def test_a_refit_on_schedule_creates_a_new_version(storage: LocalStorage) -> None:
    run(storage, DAY1, refit_every_days=2)
    assert run(storage, DAY2, refit_every_days=2).version == 1
    refit = run(storage, DAY3, refit_every_days=2)

    assert refit.version == 2
    assert "scheduled: 2 days since the fit" in refit.refit_reasons[0]
    assert store.read_current(storage) == store.CurrentVersion(2, DAY3)
    # Each day's map stays readable, tagged with the codebook version it was built with.
    assert [load_sid_map(storage, day).version for day in (DAY1, DAY2, DAY3)] == [1, 1, 2]


def test_a_refit_when_new_items_pass_their_share(storage: LocalStorage) -> None:
    run(storage, DAY1, refit_new_item_share=0.02)
    refit = run(storage, DAY2, refit_new_item_share=0.02)  # 4 new of 158 items: 2.5%

    assert refit.version == 2
    assert refit.refit_reasons[0].startswith("new items are 2.5% of the map")
    assert refit.report["items"]["assigned_today"] == len(catalog_ids(storage, DAY2))


def test_changed_settings_or_refit_flag_create_a_new_version(storage: LocalStorage) -> None:
    run(storage, DAY1)
    changed = run(storage, DAY1, levels=2)
    forced = run(storage, DAY1, levels=2, refit=True)

    assert changed.refit_reasons == ("settings changed: levels 3 -> 2",)
    assert (changed.version, forced.version) == (2, 3)
    assert load_sid_map(storage, DAY1).tokens_per_item == 3


def test_a_rerun_republishes_the_same_map_and_report(storage: LocalStorage) -> None:
    run(storage, DAY1)
    run(storage, DAY2)
    newest_day = store.map_partition(1, DAY2)
    before = load_sid_map(storage, DAY2).table
    reports = {name: storage.read_bytes(f"{newest_day}/{name}") for name in REPORT_FILES}
    rerun = run(storage, DAY2)  # every text is in the embedding cache now

    assert rerun.version == 1
    assert load_sid_map(storage, DAY2).table.equals(before)
    assert {name: storage.read_bytes(f"{newest_day}/{name}") for name in REPORT_FILES} == reports


def test_same_inputs_give_the_same_sids(simulated: Path, tmp_path: Path) -> None:
    tables = []
    for name in ("a", "b"):
        shutil.copytree(simulated / "raw", tmp_path / name / "raw")
        storage = LocalStorage(tmp_path / name)
        run(storage, DAY1)
        run(storage, DAY2)
        tables.append(load_sid_map(storage, DAY2).table)
    assert tables[0].equals(tables[1])


def test_a_backfilled_day_agrees_with_the_days_after_it(storage: LocalStorage) -> None:
    run(storage, DAY1)
    run(storage, DAY3)
    run(storage, DAY2)  # skipped, then backfilled

    day2, day3 = sids_of(load_sid_map(storage, DAY2)), sids_of(load_sid_map(storage, DAY3))
    assert {item: day3[item] for item in day2} == day2


def test_a_retired_item_keeps_its_sid_and_nobody_else_gets_it(storage: LocalStorage) -> None:
    titles = {item: f"product {item} {item % 7}" for item in range(1, 41)}
    publish_catalog(storage, DAY1, titles)
    run(storage, DAY1)
    titles[41] = titles.pop(5)  # item 5 leaves the catalog; a twin of it arrives
    publish_catalog(storage, DAY2, titles)
    run(storage, DAY2)

    rows = {row["item_id"]: row for row in load_sid_map(storage, DAY2).table.to_pylist()}
    assert rows[5]["sid"] == sids_of(load_sid_map(storage, DAY1))[5]
    assert rows[5]["listed"] is False and rows[41]["listed"] is True
    assert rows[41]["sid"] == rows[5]["sid"][:-1] + "1"  # same codes, next free de-dup index


def test_items_that_left_the_catalog_keep_a_sid_after_a_refit(storage: LocalStorage) -> None:
    titles = {item: f"product {item} {item % 7}" for item in range(1, 41)}
    publish_catalog(storage, DAY1, titles)
    run(storage, DAY1)
    del titles[5]
    publish_catalog(storage, DAY2, titles)
    run(storage, DAY2)  # item 5 stays in v1's map, unlisted
    del titles[6]
    publish_catalog(storage, DAY3, titles)
    refit = run(storage, DAY3, refit=True)

    # The logs still name items 5 and 6, so the new version maps them too.
    rows = {row["item_id"]: row for row in load_sid_map(storage, DAY3).table.to_pylist()}
    assert refit.version == 2
    assert sorted(rows) == list(range(1, 41))
    assert [rows[item]["listed"] for item in (5, 6, 7)] == [False, False, True]
    assert len({row["sid"] for row in rows.values()}) == 40


# --- past days: reruns and backfills ---------------------------------------------------------


def test_rerunning_a_past_day_keeps_its_version_and_sids(storage: LocalStorage) -> None:
    run(storage, DAY1)
    run(storage, DAY2)
    before = load_sid_map(storage, DAY2)
    refit = run(storage, DAY3, refit=True)
    rerun = run(storage, DAY2)

    assert (refit.version, rerun.version, rerun.refit_reasons) == (2, 1, ())
    assert store.read_current(storage) == store.CurrentVersion(2, DAY3)
    after = load_sid_map(storage, DAY2)
    assert after.version == before.version == 1
    assert after.table.equals(before.table)
    assert [load_sid_map(storage, day).version for day in (DAY1, DAY2, DAY3)] == [1, 1, 2]


def test_rerunning_the_first_day_keeps_its_published_map_and_fit_report(
    storage: LocalStorage,
) -> None:
    run(storage, DAY1)
    first_day = store.map_partition(1, DAY1)
    published = {key: storage.read_bytes(key) for key in storage.list_keys(first_day)}
    run(storage, DAY2)

    rerun = run(storage, DAY1)

    assert rerun.refit_reasons == ("first codebook",)  # the report of the fit, kept
    assert {key: storage.read_bytes(key) for key in storage.list_keys(first_day)} == published


def test_a_skipped_day_is_backfilled_with_the_version_in_use_on_it(storage: LocalStorage) -> None:
    run(storage, DAY1)
    run(storage, DAY3, refit=True)
    backfill = run(storage, DAY2)

    assert backfill.version == 1
    day1, day2 = sids_of(load_sid_map(storage, DAY1)), sids_of(load_sid_map(storage, DAY2))
    assert {item: day2[item] for item in day1} == day1
    assert store.read_current(storage) == store.CurrentVersion(2, DAY3)


def test_a_past_day_is_never_refitted(storage: LocalStorage) -> None:
    run(storage, DAY1)
    run(storage, DAY3)
    with pytest.raises(ValueError, match=r"2026-11-02 is a past day.*never refitted"):
        run(storage, DAY2, refit=True)
    with pytest.raises(ValueError, match=r"never refitted \(settings changed: levels 3 -> 2\)"):
        run(storage, DAY2, levels=2)
    # Drift that would refit the latest day leaves a past day on its version.
    assert run(storage, DAY2, refit_every_days=1).version == 1
    assert store.read_current(storage) == store.CurrentVersion(1, DAY1)


def test_a_day_before_the_first_fit_is_refused(storage: LocalStorage) -> None:
    run(storage, DAY2)
    with pytest.raises(ValueError, match="no codebook version was fitted on or before 2026-11-01"):
        run(storage, DAY1)
    assert store.read_current(storage) == store.CurrentVersion(1, DAY2)
    assert storage.list_keys("sids/v=2") == []
    with pytest.raises(SidMapNotFound, match="2026-11-01"):
        load_sid_map(storage, DAY1)


# --- de-duplication ----------------------------------------------------------------------------


def test_colliding_items_get_increasing_dedup_tokens() -> None:
    codes = np.array([[1, 2], [3, 4], [1, 2], [1, 2]])
    assert dedup_indices(codes, dedup_vocab=8).tolist() == [0, 0, 1, 2]
    # New items take the next free index of their codes; indices given out never move.
    taken = dedup_indices(np.array([[3, 4], [1, 2], [5, 6]]), 8, codes, np.array([0, 0, 1, 2]))
    assert taken.tolist() == [1, 3, 0]
    with pytest.raises(DedupOverflow, match="3 items share the code 1-2"):
        dedup_indices(codes, dedup_vocab=2)


def test_items_with_identical_text_are_told_apart_by_the_dedup_token(
    storage: LocalStorage,
) -> None:
    titles = {item: f"product {item} {item % 7}" for item in range(1, 41)}
    titles.update({item: "the very same title" for item in (41, 42, 43)})
    publish_catalog(storage, DAY1, titles)
    run(storage, DAY1)

    table = load_sid_map(storage, DAY1).table.to_pylist()
    twins = [row for row in table if row["item_id"] in (41, 42, 43)]
    assert len({row["sid"].rsplit("-", 1)[0] for row in twins}) == 1
    assert [row["dedup"] for row in twins] == [0, 1, 2]
    assert len({row["sid"] for row in table}) == len(table)


# --- item vectors -------------------------------------------------------------------------------


def test_item_text_joins_the_non_empty_fields() -> None:
    catalog = pa.table(
        {
            "title": ["Rose lipstick", "", None],
            "brand": ["Luma", "", ""],
            "category": ["Makeup", "Makeup", ""],
            "description": ["Matte, long lasting.", "", ""],
        }
    )
    assert item_texts(catalog) == [
        "Rose lipstick. Brand: Luma. Category: Makeup. Matte, long lasting.",
        "Category: Makeup",
        "",
    ]


def test_the_text_cache_embeds_only_new_or_changed_items(storage: LocalStorage) -> None:
    embedder = FakeEmbedder()
    run(storage, DAY1, embedder)
    assert len(embedder.embedded) == len(catalog_ids(storage, DAY1))

    embedder.embedded.clear()
    second = run(storage, DAY2, embedder)
    assert len(embedder.embedded) == len(catalog_ids(storage, DAY2)) - len(
        catalog_ids(storage, DAY1)
    )
    assert second.report["vectors"]["distinct_texts"] == len(catalog_ids(storage, DAY2))

    embedder.embedded.clear()
    key = layout.partition(layout.RAW_CATALOG, DAY3)
    catalog = storage.read_parquet(key)
    titles = catalog["title"].to_pylist()
    titles[0] = "a renamed product"
    republish(storage, key, catalog.set_column(1, "title", pa.array(titles)))
    run(storage, DAY3, embedder)
    new_items = len(catalog_ids(storage, DAY3)) - len(catalog_ids(storage, DAY2))
    assert len(embedder.embedded) == new_items + 1
    assert sum(text.startswith("a renamed product. Brand: ") for text in embedder.embedded) == 1


def test_the_embedding_cache_stays_a_few_shards(storage: LocalStorage) -> None:
    embedder = FakeEmbedder()
    titles = {item: f"product {item}" for item in range(1, 21)}
    days = [DAY1 + timedelta(days=offset) for offset in range(MAX_CACHE_SHARDS + 4)]
    for offset, day in enumerate(days):
        titles[100 + offset] = f"new product {offset}"  # one new text a day: one new shard
        catalog = pa.table({"item_id": list(titles), "title": list(titles.values())})
        TextFeatures(storage, catalog, day, embedder, seed=0).vectors({})

    shards = [key for key in storage.list_keys(layout.EMBEDDINGS) if key.endswith(".parquet")]
    assert len(shards) <= MAX_CACHE_SHARDS
    embedder.embedded.clear()
    vectors = TextFeatures(storage, catalog, days[-1], embedder, seed=0).vectors({})
    assert embedder.embedded == [] and vectors.counts["distinct_texts"] == len(titles)


def model_folder(parent: Path, weights: bytes) -> str:
    folder = parent / "my-model"
    (folder / "0_Transformer").mkdir(parents=True)
    (folder / "0_Transformer" / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text("{}")
    return str(folder)


def test_a_text_model_is_named_by_its_weights(tmp_path: Path) -> None:
    one = SentenceTransformerEmbedder(model_folder(tmp_path / "a", b"weights one"))
    two = SentenceTransformerEmbedder(model_folder(tmp_path / "b", b"weights two"))
    copy = SentenceTransformerEmbedder(model_folder(tmp_path / "c", b"weights one"))

    # Same folder name, other weights: another cache and another codebook source.
    assert one.name.startswith("my-model@") and one.name != two.name
    assert copy.name == one.name
    # Hashed once per process: a second embedder of the folder does not read it again.
    (tmp_path / "a" / "my-model" / "0_Transformer" / "model.safetensors").unlink()
    assert SentenceTransformerEmbedder(str(tmp_path / "a" / "my-model")).name == one.name
    with pytest.raises(FileNotFoundError, match="no model weights"):
        _ = SentenceTransformerEmbedder(str(tmp_path / "missing")).name


def test_items_without_text_get_stand_in_vectors(storage: LocalStorage) -> None:
    titles = {item: f"product {item}" for item in range(1, 31)} | {31: "", 32: " "}
    publish_catalog(storage, DAY1, titles)
    result = run(storage, DAY1)

    assert result.report["vectors"]["stand_ins"] == 2
    assert len(set(load_sid_map(storage, DAY1).table["sid"].to_pylist())) == 32


def collaborative_logs(storage: Storage) -> None:
    """Two crowds with disjoint tastes: users 1-20 click items 1-5, users 21-40 items 6-10."""
    publish_catalog(storage, DAY1, {item: "" for item in range(1, 13)})
    positives = [(user, item) for user in range(1, 21) for item in range(1, 6) if item != user % 5]
    positives += [(user, item) for user in range(21, 41) for item in range(6, 11)]
    publish_curated(storage, DAY1, positives)


def test_collaborative_vectors_follow_co_clicks(storage: LocalStorage) -> None:
    collaborative_logs(storage)
    catalog = storage.read_parquet(layout.partition(layout.RAW_CATALOG, DAY1)).sort_by("item_id")
    features = CollaborativeFeatures(storage, catalog, DAY1, seed=0, days=30, dim=4)
    vectors = features.vectors(features.fit_basis(seed=0))
    similarity = vectors.matrix @ vectors.matrix.T

    assert vectors.matrix.shape[0] == 12
    assert vectors.without_signal == 2  # items 11 and 12 were never clicked
    assert similarity[0, 1:5].min() > similarity[0, 5:10].max()
    assert similarity[5, 6:10].min() > similarity[5, 0:5].max()
    assert (vectors.counts["days"], vectors.counts["users"]) == (1, 40)


def test_collaborative_source_builds_stable_sids(storage: LocalStorage) -> None:
    collaborative_logs(storage)
    first = run(storage, DAY1, source="collaborative")
    publish_catalog(storage, DAY2, {item: "" for item in range(1, 14)})
    publish_curated(storage, DAY2, [(41, 13), (41, 1), (42, 13), (42, 2)])
    # Today's co-occurrence moves every vector a little; this test is about assignment.
    second = run(storage, DAY2, source="collaborative", refit_error_increase=10.0)

    assert first.report["vectors"]["source"] == "collaborative"
    assert second.version == 1 and second.refit_reasons == ()
    day1, day2 = sids_of(load_sid_map(storage, DAY1)), sids_of(load_sid_map(storage, DAY2))
    assert {item: day2[item] for item in day1} == day1
    assert len(set(day2.values())) == 13


def test_collaborative_settings_are_configured_and_refit_when_changed(
    storage: LocalStorage,
) -> None:
    collaborative_logs(storage)
    first = run(storage, DAY1, source="collaborative")
    changed = run(storage, DAY1, source="collaborative", collaborative_dim=4)

    assert first.report["vectors"]["days"] == 1
    assert changed.refit_reasons == ("settings changed: collaborative_dim 64 -> 4",)
    with pytest.raises(ValidationError, match="collaborative_days"):
        SemanticIdConfig(collaborative_days=0)


def test_collaborative_vectors_refuse_a_gap_in_the_logs(storage: LocalStorage) -> None:
    collaborative_logs(storage)
    publish_curated(storage, DAY3, [(1, 1), (1, 2)])
    publish_catalog(storage, DAY3, {item: "" for item in range(1, 13)})
    with pytest.raises(PartitionNotPublished, match=r"dt=2026-11-02.*source=text"):
        run(storage, DAY3, source="collaborative")


def test_collaborative_vectors_read_only_validated_days(storage: LocalStorage) -> None:
    collaborative_logs(storage)
    publish_curated(storage, DAY2, [(1, 1), (1, 2)], passed=False)
    publish_catalog(storage, DAY2, {item: "" for item in range(1, 13)})
    with pytest.raises(PartitionFailedValidation, match="dt=2026-11-02"):
        run(storage, DAY2, source="collaborative")


def test_logs_naming_items_outside_the_catalog_are_rejected(storage: LocalStorage) -> None:
    collaborative_logs(storage)
    publish_curated(storage, DAY2, [(1, 1), (1, 999)])
    publish_catalog(storage, DAY2, {item: "" for item in range(1, 13)})
    with pytest.raises(ValueError, match=r"1 items missing from that day's catalog.*999"):
        run(storage, DAY2, source="collaborative")


def test_collaborative_source_needs_curated_logs(storage: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError, match=r"no curated partition.*source=text"):
        run(storage, DAY1, source="collaborative")


# --- quantizers and codebooks -----------------------------------------------------------------


def test_whitening_decorrelates_to_unit_variance() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 12)) @ rng.standard_normal((12, 12))
    whitened = Whitening.fit(vectors, dim=6)(vectors)
    assert whitened.shape == (2000, 6)
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(6), atol=1e-3)


def test_codebook_size_is_clamped_to_what_the_catalog_supports() -> None:
    assert codes_per_level(256, 154) == 77
    assert codes_per_level(256, 12_101) == 256
    assert codes_per_level(256, 3) == 2


@pytest.mark.parametrize("quantizer", ["rq-kmeans", "rq-vae"])
def test_codebooks_round_trip_through_safetensors(quantizer: str) -> None:
    vectors = normalize_rows(np.random.default_rng(1).standard_normal((300, 24)))
    config = SemanticIdConfig(quantizer=quantizer, levels=2, codebook_size=16, whiten_dim=8)
    codebook = fit_codebook(vectors, {}, config)
    loaded = Codebook.from_bytes(codebook.to_bytes())

    assert (loaded.levels, loaded.size) == (2, 16)
    np.testing.assert_array_equal(loaded.codes(vectors), codebook.codes(vectors))
    assert loaded.error(vectors) == pytest.approx(codebook.error(vectors))


def test_rq_vae_trains_and_yields_a_bijection(storage: LocalStorage) -> None:
    result = run(storage, DAY1, quantizer="rq-vae")
    sid_map = load_sid_map(storage, DAY1)

    assert len(set(sid_map.table["sid"].to_pylist())) == len(catalog_ids(storage, DAY1))
    assert min(result.report["utilization"]) > 0.2  # k-means initialised: no dead codebook
    # The next day assigns with the RQ-VAE read back from safetensors.
    assert run(storage, DAY2, quantizer="rq-vae", refit_error_increase=10.0).version == 1


def test_a_tampered_codebook_is_refused(storage: LocalStorage) -> None:
    run(storage, DAY1)
    key = "sids/v=1/codebook.safetensors"
    storage.write_bytes(key, storage.read_bytes(key)[:-1] + b"\0")
    with pytest.raises(ValueError, match="does not match the sha256"):
        run(storage, DAY2)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CURRENT.json", "v=1/fit.json"])
def test_a_broken_record_is_named(storage: LocalStorage, name: str) -> None:
    run(storage, DAY1)
    key = f"sids/{name}"
    storage.write_bytes(key, storage.read_bytes(key)[:20])  # truncated
    with pytest.raises(ValueError, match=rf"{re.escape(name)} is truncated or malformed"):
        run(storage, DAY2)
    storage.write_json(key, {"version": 1})
    with pytest.raises(ValueError, match=rf"{re.escape(name)} lacks .*fitted_on"):
        run(storage, DAY2)


def test_a_missing_catalog_snapshot_is_named(storage: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError, match=r"no catalog snapshot for 2026-12-01.*dt="):
        run(storage, date(2026, 12, 1))


def test_a_catalog_without_text_suggests_the_collaborative_source(storage: LocalStorage) -> None:
    publish_catalog(storage, DAY1, {item: "" for item in range(1, 20)})
    with pytest.raises(ValueError, match="source=collaborative"):
        run(storage, DAY1)


def test_a_day_without_a_map_is_named(storage: LocalStorage) -> None:
    with pytest.raises(SidMapNotFound, match="adagrpo semantic-ids --ds 2026-11-01"):
        load_sid_map(storage, DAY1)
    run(storage, DAY1)
    with pytest.raises(SidMapNotFound, match="2026-11-02"):
        load_sid_map(storage, DAY2)


def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["semantic-ids", "--root", str(tmp_path), "--ds", "2026-11-01"]) == 2
    assert "no catalog snapshot for 2026-11-01" in caplog.text
