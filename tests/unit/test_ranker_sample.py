"""The ranker's sample: streamed from Parquet, stratified by day and label with exact counts,
uniform within a stratum, seeded, and blind to the rows its filter drops."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from components.core.storage import LocalStorage
from components.ranker.sample import allocate, stratified_sample

DAYS = (date(2026, 11, 1), date(2026, 11, 2))


@pytest.fixture
def rows(tmp_path: Path) -> tuple[LocalStorage, dict[date, str]]:
    """Two days of 1,000 and 600 rows; every fifth row clicked; ``row`` numbers them."""
    storage = LocalStorage(tmp_path)
    files = {}
    start = 0
    for day, n in zip(DAYS, (1000, 600), strict=True):
        number = np.arange(start, start + n)
        table = pa.table({"row": number, "user_id": number % 7, "clicked": number % 5 == 0})
        files[day] = f"rows/{day}.parquet"
        storage.write_parquet(files[day], table)
        start += n
    return storage, files


def test_shares_are_proportional_and_sum_to_the_size_exactly() -> None:
    assert allocate([800, 200, 480, 120], 160) == [80, 20, 48, 12]
    assert allocate([1, 1, 1], 2) == [1, 1, 0]  # equal remainders: the earlier strata
    assert sum(allocate([333, 333, 334, 7], 100)) == 100
    assert allocate([5, 3], None) == [5, 3] and allocate([5, 3], 9) == [5, 3]


def test_each_stratum_gets_its_share_exactly(rows: tuple[LocalStorage, dict]) -> None:
    storage, files = rows
    sample = stratified_sample(storage, files, size=160, seed=3, batch_rows=64)
    frame = sample.rows
    assert len(frame) == 160
    by_day = frame.groupby(frame["row"] >= 1000)["clicked"].agg(["sum", "size"])
    assert by_day.values.tolist() == [[20, 100], [12, 60]]  # 1000:600 and 1 click in 5 kept
    assert sample.counts()["2026-11-01"] == {
        "clicked": {"eligible": 200, "sampled": 20},
        "not_clicked": {"eligible": 800, "sampled": 80},
    }
    assert frame["row"].is_monotonic_increasing  # file order
    assert frame["row"].is_unique


def test_the_same_seed_draws_the_same_rows_and_another_seed_others(
    rows: tuple[LocalStorage, dict],
) -> None:
    storage, files = rows
    first = stratified_sample(storage, files, size=160, seed=3, batch_rows=64).rows["row"]
    again = stratified_sample(storage, files, size=160, seed=3, batch_rows=64).rows["row"]
    other = stratified_sample(storage, files, size=160, seed=4, batch_rows=64).rows["row"]
    assert first.tolist() == again.tolist() and first.tolist() != other.tolist()


def test_every_row_of_a_stratum_is_equally_likely(rows: tuple[LocalStorage, dict]) -> None:
    storage, files = rows
    one_day = {DAYS[0]: files[DAYS[0]]}
    seen = np.zeros(1000)
    draws = 300
    for seed in range(draws):
        sample = stratified_sample(storage, one_day, size=100, seed=seed, batch_rows=64)
        seen[sample.rows["row"].to_numpy()] += 1
    # Each row is taken with probability 1/10; batches late in the file as often as early ones.
    assert seen.mean() == pytest.approx(draws / 10)
    halves = seen.reshape(2, 500).mean(axis=1)
    assert np.allclose(halves, draws / 10, rtol=0.05)
    assert seen.std() < 2 * np.sqrt(draws * 0.1 * 0.9)  # binomial spread, no lumps


def test_rows_the_filter_drops_are_never_sampled_and_are_counted(
    rows: tuple[LocalStorage, dict],
) -> None:
    storage, files = rows
    odd_users = (["user_id"], lambda shown: np.asarray(shown["user_id"] % 2 == 1))
    sample = stratified_sample(storage, files, size=None, seed=0, keep=odd_users)
    every = pd.concat(storage.read_parquet(key).to_pandas() for key in files.values())
    kept = every[every["user_id"] % 2 == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample.rows, kept)  # no size: every kept row, in order
    assert sample.dropped == len(every) - len(kept)
