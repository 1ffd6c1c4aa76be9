"""Replay: real sequences become clicks inside simulated, popularity-biased slates."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Hashable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from components.cli import main
from components.core import layout
from components.core.schemas import CATALOG, RAW_EXPOSURE
from components.core.storage import LocalStorage
from components.simulate.replay import FillerPolicy, replay
from components.simulate.replay_input import ReplayInputError, load_source

START = date(2026, 11, 1)
DAYS = 5
SLATE = 4
SEQUENCES = {1: [1, 2, 3, 4, 5], 2: [6, 7, 8, 9, 10, 4, 11], 3: [4, 12, 13, 2], 4: [3, 3, 5]}


def write_text_format(folder: Path, sequences: dict[int, list[int]]) -> tuple[Path, Path]:
    """``Beauty.txt`` and ``item_titles.tsv`` as the S3-Rec / TIGER data ships them."""
    folder.mkdir(parents=True, exist_ok=True)
    items = sorted({item for seq in sequences.values() for item in seq})
    sequences_file, items_file = folder / "Beauty.txt", folder / "item_titles.tsv"
    sequences_file.write_text(
        "".join(f"{user} {' '.join(map(str, seq))}\n" for user, seq in sequences.items())
    )
    items_file.write_text(
        "item_id\tasin\ttitle\n" + "".join(f"{i}\tB{i:09d}\tTitle of item {i}\n" for i in items)
    )
    return sequences_file, items_file


def write_json_format(folder: Path, sequences: dict[int, list[int]]) -> tuple[Path, Path]:
    """LC-Rec's ``X.inter.json`` and ``X.item.json`` (ids are strings, from 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = sorted({item for seq in sequences.values() for item in seq})
    sequences_file, items_file = folder / "X.inter.json", folder / "X.item.json"
    sequences_file.write_text(json.dumps({str(u): seq for u, seq in sequences.items()}, indent=2))
    meta = {
        str(i): {
            "title": f"Gadget {i}",
            "description": "A thing.",
            "brand": f"Brand {i % 2}",
            "categories": "Industrial & Scientific,Tools,Hand Tools",
        }
        for i in items
    }
    items_file.write_text(json.dumps(meta, indent=2))
    return sequences_file, items_file


def run_replay(sequences_file: Path, items_file: Path, root: Path, seed: int = 1) -> LocalStorage:
    storage = LocalStorage(root)
    source = load_source(sequences_file, items_file)
    replay(storage, source, start=START, days=DAYS, seed=seed, slate_size=SLATE)
    return storage


def read_exposures(storage: LocalStorage) -> pd.DataFrame:
    return storage.read_parquet(layout.RAW_EXPOSURES).to_pandas().sort_values("event_id")


@pytest.fixture(scope="module")
def text_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    run_replay(*write_text_format(folder / "data", SEQUENCES), folder / "root")
    return folder / "root"


@pytest.fixture(scope="module")
def exposures(text_root: Path) -> pd.DataFrame:
    return read_exposures(LocalStorage(text_root))


def clicked_sequences(exposures: pd.DataFrame) -> dict[Hashable, list[Any]]:
    clicks = exposures[exposures["clicked"]].sort_values("ts")
    return clicks.groupby("user_id")["item_id"].agg(list).to_dict()


def test_each_real_interaction_is_one_click_in_real_order(exposures: pd.DataFrame) -> None:
    assert clicked_sequences(exposures) == SEQUENCES
    assert (exposures.groupby("request_id")["clicked"].sum() == 1).all()
    clicks = exposures[exposures["clicked"]].sort_values("ts")
    assert (clicks.groupby("user_id")["ts"].diff().dropna() > pd.Timedelta(0)).all()


def test_clicks_are_purchases_with_dwell_and_fillers_are_not(exposures: pd.DataFrame) -> None:
    assert (exposures["purchased"] == exposures["clicked"]).all()
    assert ((exposures["dwell_ms"] > 0) == exposures["clicked"]).all()


def test_every_slate_is_full_distinct_and_ranked(exposures: pd.DataFrame) -> None:
    by_request = exposures.sort_values(["request_id", "position"]).groupby("request_id")
    assert (by_request.size() == SLATE).all()
    assert (by_request["item_id"].nunique() == SLATE).all()
    assert set(exposures["position"]) == set(range(1, SLATE + 1))
    assert (by_request["logging_score"].diff().dropna() < 0).all()
    assert by_request["ts"].nunique().max() == 1


def test_layout_schemas_and_catalog(text_root: Path) -> None:
    days = [START + timedelta(days=offset) for offset in range(DAYS)]
    for day in days:
        exposures = text_root / layout.partition(layout.RAW_EXPOSURES, day)
        assert (exposures / "_MANIFEST.json").exists()
        for path in exposures.glob("*.parquet"):
            assert pq.read_schema(path).equals(RAW_EXPOSURE)
            ts = pq.read_table(path)["ts"].to_pandas()
            assert (ts.dt.date == day).all()  # replayed logs arrive on time
        catalog_file = text_root / layout.partition(layout.RAW_CATALOG, day) / "catalog.parquet"
        assert pq.read_schema(catalog_file).equals(CATALOG)
    catalog = pq.read_table(catalog_file).to_pandas()
    assert list(catalog["item_id"]) == list(range(1, 14))
    assert catalog.loc[catalog["item_id"] == 7, "title"].item() == "Title of item 7"
    assert (catalog["brand"] == "").all() and (catalog["category"] == "").all()
    assert catalog["price"].isna().all()
    assert (catalog["created_at"] == pd.Timestamp(START, tz="UTC")).all()


def test_provenance_names_files_and_counts(text_root: Path) -> None:
    provenance = LocalStorage(text_root).read_json("truth/replay.json")
    assert provenance["format"] == "text+tsv"
    assert provenance["counts"]["interactions"] == sum(map(len, SEQUENCES.values()))
    assert provenance["counts"]["users"] == len(SEQUENCES)
    assert provenance["counts"]["events"] == provenance["counts"]["interactions"] * SLATE
    sequences_file = Path(provenance["files"][0]["path"])
    assert (
        provenance["files"][0]["sha256"] == hashlib.sha256(sequences_file.read_bytes()).hexdigest()
    )


def test_lc_rec_json_format_gives_brands_and_main_category(tmp_path: Path) -> None:
    sequences = {0: [0, 1, 2], 1: [2, 3, 0, 4], 2: [4, 5]}
    storage = run_replay(*write_json_format(tmp_path / "data", sequences), tmp_path / "root")
    assert clicked_sequences(read_exposures(storage)) == sequences
    catalog = storage.read_parquet(layout.partition(layout.RAW_CATALOG, START)).to_pandas()
    assert list(catalog["item_id"]) == [0, 1, 2, 3, 4, 5]
    assert (catalog["category"] == "Tools").all()
    assert set(catalog["brand"]) == {"Brand 0", "Brand 1"}
    assert storage.read_json("truth/replay.json")["format"] == "json+json"


def test_same_seed_same_bytes(tmp_path: Path, text_root: Path) -> None:
    def parquet_bytes(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}

    run_replay(*write_text_format(tmp_path / "data", SEQUENCES), tmp_path / "root")
    assert parquet_bytes(tmp_path / "root") == parquet_bytes(text_root)


def test_fillers_follow_popularity(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    popular_first = (rng.zipf(1.6, size=(300, 6)) % 60) + 1  # item 1 is the most frequent
    sequences = {user + 1: list(map(int, row)) for user, row in enumerate(popular_first)}
    storage = run_replay(*write_text_format(tmp_path / "data", sequences), tmp_path / "root")
    exposures = read_exposures(storage)
    fillers = exposures.loc[~exposures["clicked"], "item_id"].value_counts()
    frequency = pd.Series(popular_first.ravel()).value_counts()
    top = frequency.index[: len(frequency) // 10]
    assert fillers.reindex(top, fill_value=0).sum() > 0.4 * fillers.sum()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("Beauty.txt", "1 1 2\n2 3 x\n", r"Beauty\.txt:2: expected non-negative integer ids"),
        ("Beauty.txt", "1 1 2\n2 3 -4\n", r"Beauty\.txt:2: expected non-negative integer ids"),
        ("Beauty.txt", "1 1 2\n2 3 \u00b2\n", r"Beauty\.txt:2: expected non-negative integer ids"),
        ("Beauty.txt", f"1 1 {2**63}\n", rf"Beauty\.txt:1: id '{2**63}' is above {2**63 - 1}"),
        ("X.inter.json", f'{{\n  "0": [1, {2**64}]\n}}', r"X\.inter\.json:2: .* is above"),
        ("X.inter.json", '{\n  "0": [1, 2],\n  "1": [3, -4]\n}', r"X\.inter\.json:3: .*-4 is neg"),
        ("items.tsv", "item_id\tasin\ttitle\n-1\tB1\tok\n", r"items\.tsv:2: id '-1' is neg"),
        ("items.tsv", "item_id\tasin\ttitle\n", r"items\.tsv:1: no items \(the file is empty"),
        ("items.tsv", "", r"items\.tsv:1: no items"),
        ("X.item.json", "{}", r"X\.item\.json:1: no items"),
        ("Beauty.txt", "1 1 2\n\n1 3 4\n", r"Beauty\.txt:3: user 1 already listed on line 1"),
        ("Beauty.txt", "1 1 2\n7\n", r"Beauty\.txt:2: user 7 has no items"),
        ("X.inter.json", '{\n  "0": [1, 2],\n  "1": [3 4]\n}', r"X\.inter\.json:3: invalid JSON"),
        ("X.inter.json", '{\n  "0": [1, 2],\n  "1": "3"\n}', r"X\.inter\.json:3: user '1'"),
        ("X.inter.json", '{\n  "0": [1, 2.5]\n}', r"X\.inter\.json:2: user '0': id 2\.5"),
        ("X.inter.json", "[[1, 2]]", r"X\.inter\.json:1: expected a JSON object"),
        ("items.tsv", "item_id\tasin\ttitle\n1\tB1\tok\n2\tB2\n", r"items\.tsv:3: expected"),
        ("items.tsv", "item_id\tasin\ttitle\nx\tB1\tok\n", r"items\.tsv:2: id 'x'"),
        ("X.item.json", '{\n  "1": "a title"\n}', r"X\.item\.json:2: item '1': expected an obj"),
        ("X.item.json", '{\n  "1": {"title": 3}\n}', r"X\.item\.json:2: item '1': expected text"),
    ],
)
def test_malformed_input_names_file_and_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    sequences_file, items_file = write_text_format(tmp_path, {1: [1, 2, 3, 4]})
    bad = tmp_path / name
    bad.write_text(content)
    # A bad sequences file is read with good items, and the other way round.
    is_items = name.endswith(("items.tsv", ".item.json"))
    with pytest.raises(ReplayInputError, match=message):
        load_source(sequences_file, bad) if is_items else load_source(bad, items_file)


@pytest.mark.parametrize("wrong", ["a_folder", "missing.txt"])
def test_unreadable_paths_are_named_not_tracebacks(tmp_path: Path, wrong: str) -> None:
    sequences_file, items_file = write_text_format(tmp_path, SEQUENCES)
    (tmp_path / "a_folder").mkdir()
    path = tmp_path / wrong
    with pytest.raises(ReplayInputError, match=f"^{re.escape(str(path))}: cannot read the file"):
        load_source(path, items_file)
    with pytest.raises(ReplayInputError, match=f"^{re.escape(str(path))}: cannot read the file"):
        load_source(sequences_file, path)


def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sequences_file, items_file = write_text_format(tmp_path, SEQUENCES)
    sequences_file.write_text("1 2 3\noops\n")
    argv = ["replay", "--root", str(tmp_path / "root"), "--start", "2026-11-01"]
    argv += ["--sequences", str(sequences_file), "--items", str(items_file)]
    assert main(argv) == 2
    assert "Beauty.txt:2" in caplog.text
    caplog.clear()
    argv[argv.index(str(sequences_file))] = str(tmp_path)  # a folder, not a file
    assert main(argv) == 2
    assert f"{tmp_path}: cannot read the file (Is a directory)" in caplog.text
    assert "Traceback" not in caplog.text


def test_cli_replays_and_rejects_a_slate_without_room(tmp_path: Path) -> None:
    sequences_file, items_file = write_text_format(tmp_path, SEQUENCES)
    argv = ["replay", "--root", str(tmp_path / "root"), "--days", "2", "--seed", "3"]
    argv += ["--sequences", str(sequences_file), "--items", str(items_file)]
    assert main(argv) == 0
    assert LocalStorage(tmp_path / "root").read_json("truth/replay.json")["days"] == 2
    assert main([*argv, "--slate-size", "1"]) == 2


def two_clusters(users: int = 200, length: int = 8) -> dict[int, list[int]]:
    """Half of the users buy only items 1-20, the other half only items 21-40."""
    rng = np.random.default_rng(3)
    return {
        user: list(map(int, rng.integers(1, 21, length) + (20 if user % 2 else 0)))
        for user in range(1, users + 1)
    }


def replay_with(
    kind: str, sequences: dict[int, list[int]], folder: Path, catalog: int | None = None
) -> pd.DataFrame:
    """The replayed exposures with the day each was shown; ``catalog``: list items 1 to it."""
    sequences_file, items_file = write_text_format(folder / "data", sequences)
    if catalog is not None:
        rows = "".join(f"{i}\tB{i:09d}\tTitle of item {i}\n" for i in range(1, catalog + 1))
        items_file.write_text("item_id\tasin\ttitle\n" + rows)
    storage = LocalStorage(folder / "root")
    policy = FillerPolicy(kind=kind)  # type: ignore[arg-type]
    source = load_source(sequences_file, items_file)
    replay(storage, source, start=START, days=DAYS, seed=1, slate_size=SLATE, policy=policy)
    exposures = read_exposures(storage)
    return exposures.assign(day=(exposures["ts"].dt.date - START).map(lambda gap: gap.days))


def test_co_occurrence_fillers_are_plausible_for_the_user(tmp_path: Path) -> None:
    def same_cluster_share(kind: str) -> float:
        exposures = replay_with(kind, two_clusters(), tmp_path / kind)
        fillers = exposures[~exposures["clicked"] & (exposures["day"] >= 1)]
        return float(((fillers["item_id"] > 20) == (fillers["user_id"] % 2 == 1)).mean())

    assert 0.35 < same_cluster_share("popularity") < 0.65  # blind to the user
    assert same_cluster_share("co-occurrence") > 0.8


def test_co_occurrence_learns_only_from_the_days_before(tmp_path: Path) -> None:
    # Two replays that differ only in what 300 long sequences end on (the last of 31
    # interactions spread over 5 days falls on a late day): item 41 in one, 42 in the other,
    # enough purchases to make it a popular, co-occurring candidate once it is known.
    def ending_on(last: int) -> dict[int, list[int]]:
        return {**two_clusters(), **{1000 + i: [*range(1, 31), last] for i in range(300)}}

    ours = replay_with("co-occurrence", ending_on(41), tmp_path / "a", catalog=42)
    theirs = replay_with("co-occurrence", ending_on(42), tmp_path / "b", catalog=42)

    changed = ours.loc[ours["clicked"] & (ours["item_id"] > 40), "request_id"]
    first_day = ours.loc[ours["request_id"].isin(changed), "day"].min()
    assert first_day >= 2  # the purchases that differ come late: there is a past to keep

    # Nothing shown before those purchases depends on them, on their own day included: only
    # their own slates differ.
    def shown_before(exposures: pd.DataFrame) -> pd.DataFrame:
        kept = (exposures["day"] <= first_day) & ~exposures["request_id"].isin(changed)
        return exposures[kept].drop(columns="event_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(shown_before(ours), shown_before(theirs))
