"""The training sequences as a stream, so that memory holds a window of them whatever the split's
size.

1. Fold (``fold_stream``): build-dataset writes each user's examples together and sorted, in one
   file. The split is read a record batch at a time. The users complete in a batch are folded
   into sequences (``fold_examples``), and the batch's last user is carried into the next one.
2. Spool (``SequenceStream.write``): the sequences go, in split order, into local chunks of
   ``batch_size * SORT_WINDOW`` sequences each (the last one shorter), saved as safetensors.
3. Read (``SequenceStream.epoch``): from ``(seed, epoch)``, a permutation of the chunks, taken a
   window of ``window_chunks`` chunks at a time. Each window is loaded, then shuffled, grouped by
   length and batched as ``Sequences.shuffled_batches`` does, from ``(seed, epoch, window)``.

Only the last chunk can hold a number of sequences that is not a multiple of the batch size. So
every other chunk gives the same number of batches wherever it lands, and every epoch has the
same number of batches. A resume at batch b skips the windows before b by their batch counts
alone, loads b's window and skips its first batches: exactly the batches the killed run would
have seen. A split that fits in one window is shuffled whole, as in memory.

Under DDP every worker spools the whole split and reads every window: a step needs the whole
batch (its token count, the rollouts' noise), and each worker takes its rows of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from safetensors.torch import load_file, save_file

from components.core.errors import BadInput
from components.trainer.sequences import (
    SORT_WINDOW,
    Sequences,
    concat_sequences,
    fold_examples,
)


def fold_stream(
    files: Iterable[Iterable[pa.RecordBatch]], tokens_per_item: int, max_history: int
) -> Iterator[Sequences]:
    """The sequences of a split given as files of record batches, each file's rows sorted by
    user (and a user in one file only), folded a batch at a time."""
    for number, batches in enumerate(files):
        carried: pa.Table | None = None
        for batch in batches:
            table = pa.Table.from_batches([batch])
            if carried is not None:
                table = pa.concat_tables([carried, table])
            users = np.asarray(table.column("user_id"))
            if len(users) == 0:
                continue
            if np.any(np.diff(users) < 0):
                raise BadInput(
                    f"file {number} of the training split is not sorted by user, so its "
                    "sequences cannot be folded as it streams; rebuild the training set with "
                    "`adagrpo build-dataset`"
                )
            last_user_starts = int(np.searchsorted(users, users[-1]))
            if last_user_starts > 0:
                yield fold_examples(table.slice(0, last_user_starts), tokens_per_item, max_history)
            carried = table.slice(last_user_starts)
        if carried is not None and carried.num_rows:
            yield fold_examples(carried, tokens_per_item, max_history)


class SequenceStream:
    """A split's sequences spooled into chunks in ``folder``, read a window at a time."""

    def __init__(
        self,
        folder: Path,
        counts: list[int],
        targets: int,
        tokens_per_item: int,
        batch_size: int,
        window_chunks: int,
    ) -> None:
        self.folder, self.counts, self.targets = folder, counts, targets
        self.tokens_per_item, self.batch_size = tokens_per_item, batch_size
        self.window_chunks = window_chunks

    @classmethod
    def write(
        cls,
        parts: Iterable[Sequences],
        folder: Path,
        batch_size: int,
        window_sequences: int,
        chunk_batches: int = SORT_WINDOW,
    ) -> SequenceStream:
        """Spool ``parts`` into ``folder`` (which must be empty) for batches of ``batch_size``,
        in chunks of ``chunk_batches`` batches, read in windows of about ``window_sequences``
        sequences (at least one chunk)."""
        chunk = batch_size * chunk_batches
        counts: list[int] = []
        targets, tokens_per_item = 0, 0
        held: list[Sequences] = []
        held_count = 0
        for part in parts:
            held.append(part)
            held_count += len(part)
            targets, tokens_per_item = targets + part.targets, part.tokens_per_item
            while held_count >= chunk:
                pending = concat_sequences(held)
                counts.append(_save(folder, len(counts), pending.take(np.arange(chunk))))
                held = [pending.take(np.arange(chunk, len(pending)))]
                held_count -= chunk
        if held_count:
            counts.append(_save(folder, len(counts), concat_sequences(held)))
        if not counts:
            raise BadInput("no training examples to fold into sequences")
        window_chunks = max(1, window_sequences // chunk)
        return cls(folder, counts, targets, tokens_per_item, batch_size, window_chunks)

    def __len__(self) -> int:
        return sum(self.counts)

    @property
    def batches_per_epoch(self) -> int:
        return sum(math.ceil(count / self.batch_size) for count in self.counts)

    @property
    def windows_per_epoch(self) -> int:
        return math.ceil(len(self.counts) / self.window_chunks)

    def epoch(
        self, epoch: int, seed: int, start: int = 0
    ) -> Iterator[tuple[Sequences, np.ndarray]]:
        """The batches of ``epoch`` in order, from its batch number ``start`` on: each as the
        window that holds it and the batch's indices in that window."""
        order = np.random.default_rng([seed, epoch]).permutation(len(self.counts))
        done = 0
        for number in range(self.windows_per_epoch):
            window = order[number * self.window_chunks : (number + 1) * self.window_chunks]
            size = sum(math.ceil(self.counts[chunk] / self.batch_size) for chunk in window)
            if done + size > start:
                sequences = concat_sequences([self._load(chunk) for chunk in window])
                rng = np.random.default_rng([seed, epoch, number])
                batches = sequences.shuffled_batches(rng, self.batch_size)
                for index in batches[max(0, start - done) :]:
                    yield sequences, index
            done += size

    def _load(self, chunk: int) -> Sequences:
        tensors = load_file(self.folder / _chunk_name(chunk))
        return Sequences(
            tensors["codes"].long(),
            tensors["items"],
            self.tokens_per_item,
            tensors["users"],
            tensors["last_items"],
        )


def _chunk_name(chunk: int) -> str:
    return f"chunk-{chunk:06d}.safetensors"


def _save(folder: Path, chunk: int, sequences: Sequences) -> int:
    """Save one chunk (codes as int32: a token code is small); its sequence count."""
    tensors = {
        "codes": sequences.codes.to(torch.int32),
        "items": sequences.items,
        "users": sequences.users,
        "last_items": sequences.last_items,
    }
    save_file({name: t.contiguous() for name, t in tensors.items()}, folder / _chunk_name(chunk))
    return len(sequences)
