"""Evaluation's input at volume (part of `make bench-scale`): a test split streamed in chunks
against the same split held in memory, side by side.

The split has the training set's schema and layout: four files of one held-out example per
user, users sorted within each. Every reader runs in its own process, measured for wall time and
the peak resident memory of the process. Each one prepares every user for beam search (reads,
encodes and left-pads the histories) and touches each padded row; the beam search itself is left
out, since it is the same for every reader.

- ``in-memory``: the whole split read as one table and padded at once (``eval_split``).
- ``streamed``: ``evaluate.chunk_users`` users at a time (``StreamedSplit``).

    python -m benchmarks.evaluation_input [--users 2000000] [--chunk-users 65536]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.processes import readers_side_by_side
from benchmarks.run import write_result
from components.core import layout
from components.core.storage import LocalStorage
from components.datasets.reader import SidDataset
from components.evaluate.decode import eval_split
from components.evaluate.streamed import StreamedSplit
from components.policy.model import PAD, PolicyConfig

log = logging.getLogger("bench-evaluation-input")
REPO = Path(__file__).resolve().parents[1]
WORKDIR = REPO / "var" / "bench" / "evaluation-input"
DS = date(2026, 11, 3)
FILES, MAX_HISTORY = 4, 20
READERS = ("in-memory", "streamed")
POLICY = PolicyConfig((256, 256, 256, 8), max_history_items=MAX_HISTORY)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--chunk-users", type=int, default=65_536)
    parser.add_argument("--read", choices=READERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = WORKDIR / f"users-{args.users}"
    if args.read:  # one reader, in this process: what the parent measures
        print(json.dumps(prepare_every_user(root, args.read, args.chunk_users)))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    started = time.perf_counter()
    write_split(root, args.users)
    flags = ["--users", str(args.users), "--chunk-users", str(args.chunk_users)]
    readers = readers_side_by_side("benchmarks.evaluation_input", flags, READERS, REPO)
    log.info("%s", readers)
    results = {"users": args.users, "chunk_users": args.chunk_users, **readers}
    write_result("evaluation_input", results, time.perf_counter() - started)
    return 0


def prepare_every_user(root: Path, reader: str, chunk_users: int) -> dict[str, Any]:
    """Encode and pad every user of the split with ``reader``; seconds and the tokens seen."""
    started = time.perf_counter()
    dataset = _dataset(root)
    if reader == "in-memory":
        split = eval_split("test", dataset.split("test"), POLICY, max_users=None)
        users, tokens = len(split), int((split.histories != PAD).sum())
    else:
        streamed = StreamedSplit(dataset, "test", POLICY, None, chunk_users)
        users, tokens = 0, 0
        for _, chunk in streamed.chunks():
            users += len(chunk)
            tokens += int((chunk.histories != PAD).sum())
    seconds = time.perf_counter() - started
    return {"users": users, "tokens": tokens, "seconds": round(seconds, 1),
            "users_per_s": round(users / seconds)}  # fmt: skip


def write_split(root: Path, users: int) -> None:
    """A synthetic test split of ``users`` users (once: kept for later runs)."""
    if (root / "_SUCCESS").exists():
        return
    storage = LocalStorage(root)
    rng = np.random.default_rng(0)
    for number, ids in enumerate(np.array_split(np.arange(users), FILES)):
        storage.write_parquet(f"{_target()}/{_file(number)}", _examples(rng, ids))
    (root / "_SUCCESS").touch()


def _examples(rng: np.random.Generator, users: np.ndarray) -> pa.Table:
    """One held-out example per user: 1 to MAX_HISTORY items of history, random SIDs."""
    tokens = len(POLICY.vocab_sizes)
    items = rng.integers(1, MAX_HISTORY, size=len(users), endpoint=True)
    offsets = np.concatenate([[0], np.cumsum(items * tokens)])
    codes = rng.integers(0, 8, size=offsets[-1], dtype=np.int32)
    target_codes = rng.integers(0, 8, size=len(users) * tokens, dtype=np.int32)
    return pa.table(
        {
            "user_id": pa.array(users, pa.int64()),
            "history_sids": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), codes),
            "target_item_id": pa.array(rng.integers(0, 1_000_000, len(users)), pa.int64()),
            "target_sid": pa.ListArray.from_arrays(
                pa.array(np.arange(len(users) + 1) * tokens, pa.int32()), target_codes
            ),
        }
    )


def _dataset(root: Path) -> SidDataset:
    files = [_file(number) for number in range(FILES)]
    return SidDataset(DS, {"files": files}, POLICY.vocab_sizes, pa.table({}), LocalStorage(root))


def _target() -> str:
    return layout.partition(layout.DATASETS, DS)


def _file(number: int) -> str:
    return f"test/part-{number:05d}.parquet"


if __name__ == "__main__":
    sys.exit(main())
