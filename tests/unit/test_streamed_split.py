"""A split streamed from the training set's files, chunk by chunk, is scored exactly as the same
split held in memory: the same users in the same order, the same sample, the same beams."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from components.core import layout
from components.core.errors import BadInput
from components.core.storage import LocalStorage
from components.datasets.reader import SidDataset
from components.evaluate.decode import eval_split, rank_items
from components.evaluate.streamed import StreamedSplit
from tests.unit.test_evaluate_metrics import ALL_ITEMS, BEAM_WIDTH, LISTED
from tests.unit.test_policy import VOCAB, tiny_policy

DS = date(2026, 11, 3)
FILES = 3  # users are spread over the files by id, as build-dataset's shards spread them


def examples(users: int, seed: int = 0) -> pa.Table:
    """Users with scattered ids and 1 to 3 items of history (3 tokens each)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(10_000, users, replace=False)
    lengths = 3 * rng.integers(1, 4, users)
    return pa.table(
        {
            "user_id": pa.array(ids, pa.int64()),
            "history_sids": pa.array(
                [rng.integers(0, 4, n).tolist() for n in lengths], pa.list_(pa.int64())
            ),
            "target_item_id": pa.array(rng.integers(1000, 1064, users), pa.int64()),
            "target_sid": pa.array(rng.integers(0, 4, (users, 3)).tolist(), pa.list_(pa.int64())),
        }
    )


def published(tmp_path: Path, table: pa.Table, split: str = "valid") -> SidDataset:
    """``table`` as a training set's split: one file per shard, each sorted by user."""
    storage = LocalStorage(tmp_path)
    target = layout.partition(layout.DATASETS, DS)
    shard = np.asarray(table.column("user_id")) % FILES
    files = []
    for number in range(FILES):
        rows = table.filter(pa.array(shard == number)).sort_by("user_id")
        files.append(f"{split}/part-{number}.parquet")
        storage.write_parquet(f"{target}/{files[-1]}", rows)
    return SidDataset(DS, {"files": files}, VOCAB, pa.table({}), storage)


@pytest.mark.parametrize("chunk_users", [1, 4, 1000])
@pytest.mark.parametrize("max_users", [None, 9])
def test_a_streamed_split_ranks_every_user_as_the_split_held_in_memory(
    tmp_path: Path, chunk_users: int, max_users: int | None
) -> None:
    table = examples(users=23)
    policy = tiny_policy()
    held = eval_split("valid", table, policy.config, max_users, seed=3)
    streamed = StreamedSplit(published(tmp_path, table), "valid", policy.config, max_users,
                             chunk_users, seed=3)  # fmt: skip

    np.testing.assert_array_equal(streamed.users, held.users)
    np.testing.assert_array_equal(streamed.targets, held.targets)
    for constraint in (None, LISTED):
        expected = rank_items(policy, held, ALL_ITEMS, constraint, BEAM_WIDTH, batch_size=4)
        ranked = rank_items(policy, streamed, ALL_ITEMS, constraint, BEAM_WIDTH, batch_size=4)
        np.testing.assert_array_equal(ranked[0], expected[0])
        np.testing.assert_array_equal(ranked[1], expected[1])


def test_chunks_cover_each_user_once_and_stay_near_their_size(tmp_path: Path) -> None:
    policy = tiny_policy()
    streamed = StreamedSplit(published(tmp_path, examples(users=40)), "valid", policy.config,
                             None, chunk_users=6)  # fmt: skip
    positions, sizes = [], []
    for at, chunk in streamed.chunks():
        np.testing.assert_array_equal(streamed.users[at], chunk.users)
        np.testing.assert_array_equal(streamed.targets[at], chunk.targets)
        positions.extend(at.tolist())
        sizes.append(len(chunk))

    assert sorted(positions) == list(range(40))
    # A chunk is closed at the first batch that fills it (batches are chunk-sized): under twice
    # the size; only a file's or the split's end closes one early.
    assert max(sizes) < 2 * 6 and sum(size < 6 for size in sizes) <= FILES


def test_a_split_that_fits_in_one_chunk_is_read_once(tmp_path: Path) -> None:
    policy = tiny_policy()
    streamed = StreamedSplit(published(tmp_path, examples(users=10)), "valid", policy.config,
                             None, chunk_users=10)  # fmt: skip
    first = list(streamed.chunks())
    for file in (tmp_path / layout.partition(layout.DATASETS, DS) / "valid").iterdir():
        file.unlink()  # what it holds is all it needs from now on

    (at, chunk), = list(streamed.chunks())  # fmt: skip
    assert chunk is first[0][1] and at.tolist() == list(range(10))


def test_a_user_with_two_held_out_examples_is_refused(tmp_path: Path) -> None:
    table = examples(users=5)
    twice = pa.concat_tables([table, table.slice(2, 1)])
    with pytest.raises(BadInput, match=r"more than once.*adagrpo build-dataset"):
        StreamedSplit(published(tmp_path, twice), "valid", tiny_policy().config, None, 8)


def test_an_empty_split_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"the test split .* has no users to score"):
        StreamedSplit(published(tmp_path, examples(users=0), split="test"), "test",
                      tiny_policy().config, None, 8)  # fmt: skip
