"""The trainer's input at volume (part of `make bench-scale`): the streamed reader against the
in-memory one, side by side on one synthetic training split.

The split has the training set's schema and layout: four files, users sorted within each, each
user's examples together. Every reader runs in its own process, measured for wall time and the
peak resident memory of the process. Each one folds the split into sequences and then reads one
epoch of batches, which is what SFT consumes; the model's compute is left out, since it is the
same for every reader.

- ``in-memory``: the whole split read as one table and folded at once, then batched.
- ``streamed``: folded a record batch at a time into local chunks, then read one window of
  ``train.shuffle_window`` sequences at a time (``components/trainer/stream.py``).

    python -m benchmarks.training_input [--users 500000] [--window 262144]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.processes import readers_side_by_side
from benchmarks.run import write_result
from components.core.storage import LocalStorage
from components.trainer.sequences import Sequences, fold_examples
from components.trainer.stream import SequenceStream, fold_stream

log = logging.getLogger("bench-training-input")
REPO = Path(__file__).resolve().parents[1]
WORKDIR = REPO / "var" / "bench" / "training-input"
TOKENS_PER_ITEM, MAX_HISTORY, FILES, BATCH_SIZE = 4, 20, 4, 256
READERS = ("in-memory", "streamed")
ITEMS_PER_USER = (2, 40)  # uniform: a user's positives in the history window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--window", type=int, default=262_144, help="streamed: shuffle_window")
    parser.add_argument("--read", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    split = WORKDIR / f"users-{args.users}"
    if args.read:  # one reader, in this process: what the parent measures
        print(json.dumps(read_one_epoch(split, args.read, args.window)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    examples = write_split(split, args.users)
    flags = ["--users", str(args.users), "--window", str(args.window)]
    readers = readers_side_by_side("benchmarks.training_input", flags, READERS, REPO)
    log.info("%s", readers)
    results = {"users": args.users, "examples": examples, "window": args.window, **readers}
    write_result("training_input", results, time.perf_counter() - started)
    return 0


def read_one_epoch(split: Path, reader: str, window: int) -> dict[str, Any]:
    """Fold ``split`` and read one epoch of batches with ``reader``: seconds and throughput."""
    started = time.perf_counter()
    files = sorted(split.glob("*.parquet"))
    with tempfile.TemporaryDirectory(prefix="adagrpo-sequences-") as spool:
        if reader == "in-memory":
            table = pa.concat_tables(pq.read_table(path) for path in files)
            sequences = fold_examples(table, TOKENS_PER_ITEM, MAX_HISTORY)
            del table
            folded = time.perf_counter()
            rng = np.random.default_rng([0, 0])
            count = _consume(
                (sequences, index) for index in sequences.shuffled_batches(rng, BATCH_SIZE)
            )
        else:
            storage = LocalStorage(split)
            examples = [storage.iter_parquet(path.name) for path in files]
            stream = SequenceStream.write(
                fold_stream(examples, TOKENS_PER_ITEM, MAX_HISTORY),
                Path(spool),
                BATCH_SIZE,
                window,
            )
            folded = time.perf_counter()
            count = _consume(stream.epoch(0, seed=0))
    read = time.perf_counter()
    return {
        "sequences": count,
        "fold_s": round(folded - started, 1),
        "epoch_s": round(read - folded, 1),
        "sequences_per_s": round(count / (read - folded)),
    }


def _consume(batches: Iterable[tuple[Sequences, np.ndarray]]) -> int:
    """Gather every batch's codes as a training step does; the sequences seen."""
    count = 0
    for sequences, index in batches:
        sequences.batch(index)
        count += len(index)
    return count


def write_split(folder: Path, users: int) -> int:
    """A synthetic training split of ``users`` users (once: kept for later runs); its examples."""
    if (folder / "_SUCCESS").exists():
        return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.glob("*.parquet"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    examples = 0
    for number, ids in enumerate(np.array_split(np.arange(users), FILES)):
        table = _examples(rng, ids)
        pq.write_table(table, folder / f"part-{number:05d}.parquet", row_group_size=1 << 20)
        examples += table.num_rows
    (folder / "_SUCCESS").touch()
    return examples


def _examples(rng: np.random.Generator, users: np.ndarray) -> pa.Table:
    """Every training example of ``users`` (sorted): each item but a user's first is a target,
    with the up-to-MAX_HISTORY items before it as history; items have random 4-token SIDs."""
    items = rng.integers(*ITEMS_PER_USER, size=len(users), endpoint=True)
    per_user = items - 1
    user = np.repeat(users, per_user)
    first = np.repeat(np.cumsum(per_user) - per_user, per_user)
    target_index = np.arange(len(user)) - first + 1
    history_items = np.minimum(target_index, MAX_HISTORY)
    offsets = np.concatenate([[0], np.cumsum(history_items * TOKENS_PER_ITEM)])
    codes = rng.integers(0, 256, size=offsets[-1], dtype=np.int32)
    target_codes = rng.integers(0, 256, size=len(user) * TOKENS_PER_ITEM, dtype=np.int32)
    return pa.table(
        {
            "user_id": pa.array(user, pa.int64()),
            "target_index": pa.array(target_index, pa.int32()),
            "history_sids": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), codes),
            "target_sid": pa.ListArray.from_arrays(
                pa.array(np.arange(len(user) + 1) * TOKENS_PER_ITEM, pa.int32()), target_codes
            ),
            "target_item_id": pa.array(rng.integers(0, 1_000_000, len(user)), pa.int64()),
        }
    )


if __name__ == "__main__":
    sys.exit(main())
