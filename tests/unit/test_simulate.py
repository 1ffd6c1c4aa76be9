"""The simulator: the biases it must show, the contract it must keep, and how it streams."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.cli import main
from components.core import layout, partitions
from components.core.schemas import CATALOG, RAW_EXPOSURE
from components.core.storage import LocalStorage
from components.simulate.delivery import DeliveryFaults, deliver
from components.simulate.events import SlateLog
from components.simulate.exposures import ExposureGenerator
from components.simulate.feedback import FeedbackModel
from components.simulate.logging_policy import PolicyParams, top_distinct
from components.simulate.sampling import WeightedSampler
from components.simulate.scales import SCALES, Scale
from components.simulate.stage import simulate
from components.simulate.truth import TrueRelevance
from components.simulate.world import build_world

TINY = SCALES["tiny"]
START = date(2026, 11, 1)
DAYS = [START + timedelta(days=offset) for offset in range(TINY.days)]


def run(root: Path, seed: int = 7, days: int | None = None, scale: Scale = TINY) -> LocalStorage:
    storage = LocalStorage(root)
    simulate(storage, scale, seed=seed, start=START, days=days)
    return storage


def read_exposures(storage: LocalStorage) -> pd.DataFrame:
    """Every raw exposure row, with the day of the partition it arrived in."""
    days = sorted(key.split("dt=")[1] for key in _partitions(storage, layout.RAW_EXPOSURES))
    return pd.concat(
        storage.read_parquet(layout.partition(layout.RAW_EXPOSURES, date.fromisoformat(day)))
        .to_pandas()
        .assign(arrival=date.fromisoformat(day))
        for day in days
    )


def _partitions(storage: LocalStorage, dataset: str) -> set[str]:
    return {key.rsplit("/", 1)[0] for key in storage.list_keys(dataset)}


def parquet_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*.parquet"))
        if "_staging" not in path.parts
    }


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    run(root)
    return root


@pytest.fixture(scope="module")
def tiny(tiny_root: Path) -> LocalStorage:
    return LocalStorage(tiny_root)


@pytest.fixture(scope="module")
def exposures(tiny: LocalStorage) -> pd.DataFrame:
    return read_exposures(tiny)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    """A few days at small scale: enough items for popularity statistics."""
    return run(tmp_path_factory.mktemp("small"), days=3, scale=SCALES["small"])


def test_files_have_exactly_the_contract_schemas(tiny_root: Path) -> None:
    exposure_files = list((tiny_root / layout.RAW_EXPOSURES).rglob("*.parquet"))
    catalog_files = list((tiny_root / layout.RAW_CATALOG).rglob("*.parquet"))
    assert exposure_files and len(catalog_files) == TINY.days
    assert all(pq.read_schema(path).equals(RAW_EXPOSURE) for path in exposure_files)
    assert all(pq.read_schema(path).equals(CATALOG) for path in catalog_files)


def test_one_published_partition_per_simulated_day(tiny: LocalStorage) -> None:
    for dataset in (layout.RAW_EXPOSURES, layout.RAW_CATALOG):
        assert _partitions(tiny, dataset) == {layout.partition(dataset, day) for day in DAYS}
    for day in DAYS:
        key = layout.partition(layout.RAW_EXPOSURES, day)
        manifest = partitions.read_manifest(tiny, key)
        assert manifest["producer"] == "simulate" and manifest["dt"] == day.isoformat()
        assert manifest["rows"] == tiny.read_parquet(key).num_rows


def test_clicks_fall_with_position(exposures: pd.DataFrame) -> None:
    ctr = exposures.groupby("position")["clicked"].mean()
    assert list(ctr.index) == list(range(1, 11))
    assert ctr[1] > 3 * ctr[10]
    assert 0.01 < exposures["clicked"].mean() < 0.2


def test_exposures_are_popularity_heavy_and_new_items_rarely_shown(small: LocalStorage) -> None:
    shown = read_exposures(small)["item_id"].value_counts()
    last_day = START + timedelta(days=2)
    catalog = small.read_parquet(layout.partition(layout.RAW_CATALOG, last_day)).to_pandas()
    per_item = shown.reindex(catalog["item_id"], fill_value=0).to_numpy()
    top_tenth = np.sort(per_item)[::-1][: len(per_item) // 10]
    assert top_tenth.sum() > 0.5 * per_item.sum()
    is_new = (catalog["created_at"] >= pd.Timestamp(START, tz="UTC")).to_numpy()
    assert is_new.any()
    assert per_item[is_new].mean() < 0.25 * per_item[~is_new].mean()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(
    tiny_root: Path, tmp_path: Path
) -> None:
    run(tmp_path / "again")
    run(tmp_path / "other", seed=8)
    expected = parquet_bytes(tiny_root)
    assert parquet_bytes(tmp_path / "again") == expected
    other = parquet_bytes(tmp_path / "other")
    assert other.keys() & expected.keys()
    assert all(other[key] != expected[key] for key in other.keys() & expected.keys())


def test_a_day_does_not_depend_on_the_horizon(tiny_root: Path, tmp_path: Path) -> None:
    run(tmp_path, days=2)
    first = layout.partition(layout.RAW_EXPOSURES, START)
    shorter, longer = parquet_bytes(tmp_path), parquet_bytes(tiny_root)
    assert {k: v for k, v in shorter.items() if k.startswith(first)} == {
        k: v for k, v in longer.items() if k.startswith(first)
    }
    catalog = layout.RAW_CATALOG
    assert {k: v for k, v in shorter.items() if k.startswith(catalog)} == {
        k: v for k, v in longer.items() if k.startswith(catalog) and k in shorter
    }


def test_a_daily_window_rewrites_the_same_bytes_as_the_full_run(
    tiny_root: Path, tmp_path: Path
) -> None:
    window = ["simulate", "--root", str(tmp_path), "--scale", "tiny", "--seed", "7"]
    window += ["--start", START.isoformat(), "--ds", DAYS[-1].isoformat(), "--lookback-days", "2"]
    assert main(window) == 0
    written = parquet_bytes(tmp_path)
    assert {key.split("/")[2] for key in written if key.startswith("raw")} == {
        f"dt={day}" for day in DAYS[1:]
    }
    full = parquet_bytes(tiny_root)
    assert all(full[key] == content for key, content in written.items())
    too_early = [*window[:-2], "--lookback-days", str(TINY.days + 1)]
    assert main(too_early) == 2


def test_event_ids_are_unique_apart_from_redelivered_copies(exposures: pd.DataFrame) -> None:
    copies = exposures[exposures["event_id"].duplicated(keep=False)]
    content = [column for column in RAW_EXPOSURE.names]
    assert len(copies.drop_duplicates(content)) == copies["event_id"].nunique()
    assert copies.groupby("event_id").size().max() == 2
    extra = exposures["event_id"].duplicated().mean()
    assert 0.0005 < extra < 0.01


def test_purchases_and_dwell_only_follow_clicks(exposures: pd.DataFrame) -> None:
    assert not (exposures["purchased"] & ~exposures["clicked"]).any()
    assert ((exposures["dwell_ms"] > 0) == exposures["clicked"]).all()
    assert exposures.loc[exposures["purchased"], "clicked"].all()


def test_events_arrive_on_their_day_or_one_day_late(exposures: pd.DataFrame) -> None:
    event_day = exposures["ts"].dt.date
    delay = (exposures["arrival"] - event_day).map(lambda gap: gap.days)
    assert set(delay) == {0, 1}
    assert 0.001 < (delay == 1).mean() < 0.02
    # A late request arrives whole: the first deliveries of its events share one day.
    first = exposures.sort_values("arrival").drop_duplicates("event_id")
    assert (first.groupby("request_id")["arrival"].nunique() == 1).all()


def test_slates_are_ranked_by_the_logged_score(exposures: pd.DataFrame) -> None:
    slates = exposures.drop_duplicates("event_id").sort_values(["request_id", "position"])
    by_request = slates.groupby("request_id")
    assert (by_request["position"].max() == by_request.size()).all()  # positions 1..n
    assert (by_request["item_id"].nunique() == by_request.size()).all()
    assert (by_request["logging_score"].diff().dropna() <= 0).all()
    assert set(slates["surface"]) == {"home", "search", "product_page"}
    assert set(slates["arm"]) == {"control", "treatment"}
    assert (slates.groupby("user_id")["arm"].nunique() == 1).all()


def test_catalog_grows_every_day_and_lists_every_shown_item(
    tiny: LocalStorage, exposures: pd.DataFrame
) -> None:
    catalogs = [
        tiny.read_parquet(layout.partition(layout.RAW_CATALOG, day)).to_pandas() for day in DAYS
    ]
    for before, after in itertools.pairwise(catalogs):
        assert len(after) > len(before)
        assert set(before["item_id"]) < set(after["item_id"])
    for day, catalog in zip(DAYS, catalogs, strict=True):
        end_of_day = pd.Timestamp(day + timedelta(days=1), tz="UTC")
        assert (catalog["created_at"] < end_of_day).all()
        shown = exposures.loc[exposures["ts"].dt.date == day, "item_id"]
        assert set(shown) <= set(catalog["item_id"])
    last = catalogs[-1]
    assert 15 <= last["category"].nunique() <= 25
    assert (last["price"] > 0).all()
    titles = zip(last["title"], last["brand"], strict=True)
    assert all(title.startswith(f"{brand} ") for title, brand in titles)


def test_the_truth_explains_the_clicks(tiny_root: Path, exposures: pd.DataFrame) -> None:
    params = json.loads((tiny_root / "truth" / "params.json").read_text())
    assert params["seed"] == 7 and params["scale"]["name"] == "tiny"
    users = pq.read_table(tiny_root / "truth" / "users.parquet").to_pandas()
    items = pq.read_table(tiny_root / "truth" / "items.parquet").to_pandas()
    assert len(users) == TINY.users
    user_latent = np.stack(users.set_index("user_id").loc[exposures["user_id"], "latent"])
    item_rows = items.set_index("item_id").loc[exposures["item_id"]]
    feedback = params["feedback"]
    logit = (
        feedback["affinity_scale"] * (user_latent * np.stack(item_rows["latent"])).sum(axis=1)
        + item_rows["quality"].to_numpy()
        + feedback["relevance_bias"]
    )
    relevance = 1 / (1 + np.exp(-logit))
    clicked = exposures["clicked"].to_numpy()
    assert relevance[clicked].mean() > 2 * relevance[~clicked].mean()


def test_the_truth_predicts_the_click_rate_of_the_slates_shown(
    tiny: LocalStorage, exposures: pd.DataFrame
) -> None:
    truth = TrueRelevance.load(tiny)
    assert truth is not None
    events = exposures.drop_duplicates("event_id")  # re-delivered copies are one exposure
    full = events.groupby("request_id")["position"].transform("size") == 10
    slates = events[full].sort_values(["request_id", "position"])
    lists = slates["item_id"].to_numpy().reshape(-1, 10)
    users = slates["user_id"].to_numpy()[::10]
    expected = truth.click_rate(users, lists, np.ones(lists.shape, bool)).mean()
    clicked = slates["clicked"].mean()
    standard_error = np.sqrt(clicked * (1 - clicked) / len(slates))
    assert abs(expected - clicked) < 4 * standard_error


def test_a_shorter_run_never_shrinks_the_truth(tmp_path: Path) -> None:
    def truth_items() -> set[int]:
        return set(pq.read_table(tmp_path / "truth" / "items.parquet")["item_id"].to_pylist())

    def catalog_items(day: int) -> set[int]:
        key = layout.partition(layout.RAW_CATALOG, START + timedelta(days=day))
        return set(storage.read_parquet(key)["item_id"].to_pylist())

    storage = run(tmp_path, days=5)
    full = truth_items()
    assert catalog_items(4) <= full
    # A backfill of the window ending on day 3 keeps the truth the 5-day run wrote.
    simulate(storage, TINY, seed=7, start=START, days=2, first_day=1)
    assert truth_items() == full
    assert storage.read_json("truth/params.json")["days"] == 5
    # A window reaching further extends it; another shop replaces it whatever its horizon.
    simulate(storage, TINY, seed=7, start=START, days=2, first_day=4)
    assert full < truth_items() and catalog_items(5) <= truth_items()
    assert storage.read_json("truth/params.json")["days"] == 6
    run(tmp_path, seed=8, days=2)
    assert storage.read_json("truth/params.json")["days"] == 2
    assert storage.read_json("truth/params.json")["seed"] == 8


def test_days_stream_in_chunks_of_bounded_size(tmp_path: Path) -> None:
    chunked = replace(TINY, chunk_events=2_000)
    world = build_world(chunked, seed=7, start=START, days=1)
    generator = ExposureGenerator(world, PolicyParams(), FeedbackModel(), chunked.chunk_events)
    chunks = list(generator.day_chunks(0))
    assert len(chunks) >= 5
    assert max(chunk.num_rows for chunk in chunks) < 1.5 * chunked.chunk_events
    ts = pa.concat_tables(chunks)["ts"].to_numpy()
    assert (np.diff(ts) >= np.timedelta64(0)).all()  # chunks are consecutive time slices

    storage = run(tmp_path, days=2, scale=chunked)
    for day in DAYS[:2]:
        parts = tmp_path / layout.partition(layout.RAW_EXPOSURES, day)
        assert len(list(parts.glob("part-*.parquet"))) >= 5
    assert read_exposures(storage)["event_id"].nunique() > 20_000


def test_scales_have_the_sizes_of_their_names() -> None:
    assert [(s.users, s.items, s.days) for s in SCALES.values()] == [
        (400, 150, 3),
        (3_000, 1_000, 7),
        (20_000, 5_000, 14),
        (1_000_000, 100_000, 30),
        (10_000_000, 200_000, 2),
    ]
    demo, large, xlarge = SCALES["demo"], SCALES["large"], SCALES["xlarge"]
    slate = PolicyParams().slate_size
    assert 2e6 < demo.requests_per_day * slate * demo.days < 5e6
    assert 9e6 < large.requests_per_day * slate * 3 < 12e6  # the streaming benchmark
    assert large.requests_per_day * slate * large.days > 100e6
    assert 95e6 < xlarge.requests_per_day * slate < 105e6  # a day of a shop with real traffic


def test_weighted_sampler_draws_in_proportion_to_weights() -> None:
    weights = np.array([0.0, 1.0, 0.0, 2.5, 0.5])
    drawn = WeightedSampler(weights).draw(np.random.default_rng(0), 200_000)
    shares = np.bincount(drawn, minlength=len(weights)) / len(drawn)
    np.testing.assert_allclose(shares, weights / weights.sum(), atol=0.005)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedSampler(np.array([1.0, -1.0]))


def test_top_distinct_merges_copies_and_ranks_best_first() -> None:
    candidates = np.array([[5, 3, 5, 7, 9], [1, 1, 1, 2, 2]])
    scores = np.array([[0.1, 0.5, 0.9, -np.inf, 0.3], [0.2, 0.4, 0.1, 0.3, 0.0]])
    slates = top_distinct(candidates, scores, slate_size=3)
    assert slates.shown.tolist() == [[True, True, True], [True, True, False]]
    assert sorted(slates.items[0]) == [3, 5, 9]  # 7 must not be shown
    assert sorted(slates.items[1, :2]) == [1, 2]
    assert (np.diff(slates.scores[0]) <= 0).all()


def test_late_requests_and_copies_never_arrive_early() -> None:
    log = SlateLog(
        user_ids=np.arange(20_000),
        ts_us=np.zeros(20_000, dtype=np.int64),
        surface=np.zeros(20_000, dtype=np.int8),
        item_ids=np.ones((20_000, 3), dtype=np.int64),
        scores=np.zeros((20_000, 3)),
        shown=np.ones((20_000, 3), dtype=bool),
        clicked=np.zeros((20_000, 3), dtype=bool),
        purchased=np.zeros((20_000, 3), dtype=bool),
        dwell_ms=np.zeros((20_000, 3), dtype=np.int64),
    )
    events = log.to_table(START, chunk=0)
    faults = DeliveryFaults(late_request_rate=0.05, duplicate_rate=0.05)
    split = deliver(events, faults, has_next_day=True)
    today, tomorrow = split.today.to_pandas(), split.next_day.to_pandas()
    assert len(today) + len(tomorrow) == events.num_rows + split.duplicates
    # A request with an event that arrives only tomorrow is late as a whole: nothing of it,
    # not even a re-delivered copy, arrives today.
    late = set(tomorrow.loc[~tomorrow["event_id"].isin(today["event_id"]), "request_id"])
    assert 0.03 < len(late) / len(log.user_ids) < 0.07
    assert not today["request_id"].isin(late).any()
    last_day = deliver(events, faults, has_next_day=False)
    assert last_day.next_day.num_rows == 0
    assert last_day.today.num_rows == events.num_rows + last_day.duplicates


def test_cli_flags_override_the_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    argv = ["simulate", "--root", str(root), "--scale", "tiny", "--days", "1", "--seed", "3"]
    assert main([*argv, "--start", "2026-12-01"]) == 0
    storage = LocalStorage(root)
    assert partitions.is_published(
        storage, layout.partition(layout.RAW_EXPOSURES, date(2026, 12, 1))
    )
    assert storage.read_json("truth/params.json")["seed"] == 3
    with pytest.raises(SystemExit):
        main([*argv, "--start", "December"])


def test_more_users_make_a_day_of_proportionally_more_exposures(tmp_path: Path) -> None:
    def exposures_with(users: int) -> pd.DataFrame:
        root = tmp_path / str(users)
        argv = ["simulate", "--root", str(root), "--scale", "tiny", "--days", "1"]
        assert main([*argv, "--users", str(users)]) == 0
        return read_exposures(LocalStorage(root))

    few, many = exposures_with(200), exposures_with(800)
    assert few["user_id"].nunique() <= 200 < many["user_id"].nunique() <= 800
    assert 3.5 < len(many) / len(few) < 4.5


def test_the_configured_exploration_bucket_spreads_the_exposures_evenly(tmp_path: Path) -> None:
    def top_tenth_share(random_share: float) -> float:
        root = tmp_path / str(random_share)
        setting = f"simulate.logging_policy.random_share={random_share}"
        argv = ["simulate", "--root", str(root), "--scale", "small", "--days", "1"]
        assert main([*argv, "--set", setting]) == 0
        storage = LocalStorage(root)
        assert storage.read_json("truth/params.json")["policy"]["random_share"] == random_share
        exposures = read_exposures(storage)
        initial = range(1, SCALES["small"].items + 1)  # what the first day can show
        per_item = exposures["item_id"].value_counts().reindex(initial, fill_value=0)
        top_tenth = np.sort(per_item.to_numpy())[::-1][: len(per_item) // 10]
        return float(top_tenth.sum() / per_item.sum())

    # The biased policy gives the most shown tenth of the items over half of the exposures; a
    # uniform draw (about 60 exposures per item, so the top tenth is a little above the mean)
    # gives it little more than a tenth.
    assert top_tenth_share(0.0) > 0.5
    assert 0.1 < top_tenth_share(1.0) < 0.15
