"""The training sequences streamed: folded from record batches as they come, spooled into
chunks, read a window at a time; every epoch is every sequence once, in the same number of
batches, and resuming at any batch gives the rest of the epoch exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from components.core.errors import BadInput
from components.trainer import stream
from components.trainer.sequences import Sequences, fold_examples
from components.trainer.stream import SequenceStream, fold_stream
from tests.unit.test_trainer import examples, random_sequences

MAX_HISTORY = 3


def as_batches(table: pa.Table, rows: int) -> list[pa.RecordBatch]:
    return table.to_batches(max_chunksize=rows)


def same_sequences(a: Sequences, b: Sequences) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in (
            (a.codes, b.codes),
            (a.items, b.items),
            (a.users, b.users),
            (a.last_items, b.last_items),
        )
    )


@pytest.mark.parametrize("rows", [1, 3, 7, 1000])
def test_folding_a_stream_of_batches_gives_the_sequences_of_the_whole_split(rows: int) -> None:
    # Two files, users sorted within each; batches of `rows` rows split users anywhere.
    files = [examples({1: 9, 2: 2, 5: 6}, MAX_HISTORY), examples({3: 12, 4: 1, 6: 3}, MAX_HISTORY)]
    whole = fold_examples(pa.concat_tables(files), 2, MAX_HISTORY)

    folded = list(fold_stream([as_batches(f, rows) for f in files], 2, MAX_HISTORY))

    streamed = Sequences(
        torch.cat([s.codes for s in folded]),
        torch.cat([s.items for s in folded]),
        2,
        torch.cat([s.users for s in folded]),
        torch.cat([s.last_items for s in folded]),
    )
    assert same_sequences(streamed, whole)


def test_a_file_not_sorted_by_user_is_refused_naming_build_dataset() -> None:
    table = examples({2: 4, 1: 4}, MAX_HISTORY)
    with pytest.raises(BadInput, match=r"not sorted by user.*adagrpo build-dataset"):
        list(fold_stream([as_batches(table, 2)], 2, MAX_HISTORY))


def spool(tmp_path: Path, count: int, batch_size: int, window: int) -> SequenceStream:
    # Chunks of 2 batches: count sequences make several chunks, the last one short.
    return SequenceStream.write(
        [random_sequences(count)], tmp_path, batch_size, window, chunk_batches=2
    )


def epoch_rows(stream_: SequenceStream, epoch: int, start: int = 0) -> list[list[int]]:
    """Each batch of the epoch as the users of its sequences (``random_sequences`` numbers
    users 0, 1, ...)."""
    return [
        window.users[index].tolist() for window, index in stream_.epoch(epoch, seed=7, start=start)
    ]


def test_every_epoch_is_every_sequence_once_in_the_same_number_of_batches(tmp_path: Path) -> None:
    sequences = spool(tmp_path, count=101, batch_size=4, window=16)  # chunks of 8; windows of 2

    assert sequences.counts == [8] * 12 + [5] and sequences.windows_per_epoch == 7
    assert len(sequences) == 101 and sequences.batches_per_epoch == 12 * 2 + 2
    epochs = [epoch_rows(sequences, epoch) for epoch in range(4)]
    for batches in epochs:
        assert len(batches) == sequences.batches_per_epoch
        assert all(1 <= len(batch) <= 4 for batch in batches)
        assert sorted(user for batch in batches for user in batch) == list(range(101))
    assert len({str(batches) for batches in epochs}) == 4  # each epoch its own order
    assert epoch_rows(sequences, 2) == epochs[2]  # a function of (seed, epoch)


def test_resuming_at_any_batch_gives_the_rest_of_the_epoch(tmp_path: Path) -> None:
    sequences = spool(tmp_path, count=101, batch_size=4, window=16)
    whole = epoch_rows(sequences, epoch=1)
    for start in range(len(whole) + 1):
        assert epoch_rows(sequences, epoch=1, start=start) == whole[start:], start


def test_a_window_holds_at_most_its_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sequences = spool(tmp_path, count=101, batch_size=4, window=16)
    loaded: list[int] = []
    load = SequenceStream._load

    def counting(self: SequenceStream, chunk: int) -> Sequences:
        loaded.append(chunk)
        return load(self, chunk)

    monkeypatch.setattr(SequenceStream, "_load", counting)
    largest_window = 0
    for batch_number, _ in enumerate(sequences.epoch(0, seed=7)):
        largest_window = max(largest_window, len(loaded))
        if batch_number % 4 == 3:  # a window's 4 batches are done: its chunks can go
            loaded.clear()
    assert largest_window <= 2
    # Resuming reads only the chunks from the resumed batch's window on.
    loaded.clear()
    list(sequences.epoch(0, seed=7, start=sequences.batches_per_epoch - 1))
    assert len(loaded) <= 2


def test_a_split_that_fits_one_window_is_shuffled_whole(tmp_path: Path) -> None:
    sequences = spool(tmp_path, count=101, batch_size=4, window=10_000)
    assert sequences.windows_per_epoch == 1
    batches = epoch_rows(sequences, epoch=0)
    assert len(batches) == 26  # ceil(101 / 4): no short batch but the last
    assert sum(len(batch) < 4 for batch in batches) == 1


def test_nothing_to_spool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no training examples"):
        SequenceStream.write([], tmp_path, batch_size=4, window_sequences=16)


def test_chunks_keep_codes_as_int32_and_give_them_back_as_int64(tmp_path: Path) -> None:
    sequences = random_sequences(10)
    spooled = SequenceStream.write([sequences], tmp_path, 4, 100, chunk_batches=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        stream._chunk_name(chunk) for chunk in range(3)
    ]
    [(window, index)] = list(spooled.epoch(0, seed=0))[:1]
    batch = window.take(index)
    assert batch.codes.dtype == torch.int64
    order = batch.users.numpy()
    assert torch.equal(batch.codes, sequences.codes[torch.from_numpy(order)])
    assert np.array_equal(batch.items.numpy(), sequences.items.numpy()[order])
