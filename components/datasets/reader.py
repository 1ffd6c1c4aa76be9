"""What training and evaluation read: a published training set and its token vocabularies.

```python
dataset = open_dataset(storage, ds)
dataset.vocab_sizes        # codes per token position: levels of the codebook, then de-dup
dataset.split("train")     # Arrow: user_id, target_index, target_sid, history_sids, ...
dataset.catalog            # Arrow: item_id, sid, listed (every item the SID map knows)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from components.core import layout, partitions
from components.core.errors import BadInput
from components.core.storage import Storage
from components.datasets.stage import SPLITS


@dataclass(frozen=True)
class SidDataset:
    ds: date
    manifest: dict[str, Any]
    vocab_sizes: tuple[int, ...]
    catalog: pa.Table
    _storage: Storage

    @property
    def sid_version(self) -> int:
        return int(self.manifest["sid_version"])

    @property
    def max_history(self) -> int:
        return int(self.manifest["max_history"])

    def split(self, name: str) -> pa.Table:
        """The examples of ``name`` (train, valid or test), read from the manifest's files."""
        return pa.concat_tables(self._storage.read_parquet(key) for key in self._files(name))

    def stream(
        self, name: str, columns: list[str] | None = None, batch_rows: int = 65_536
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        """The examples of ``name`` file by file, each file as record batches of at most
        ``batch_rows`` rows in its order (rows sorted by user, a user in one file): what
        training folds as it streams and evaluation reads in chunks."""
        for key in self._files(name):
            yield self._storage.iter_parquet(key, columns, batch_rows)

    def _files(self, name: str) -> list[str]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        target = layout.partition(layout.DATASETS, self.ds)
        files = [path for path in self.manifest["files"] if path.startswith(f"{name}/")]
        if not files:
            raise BadInput(f"{self._storage.uri(target)} has no {name} files")
        return [f"{target}/{path}" for path in files]


def open_dataset(storage: Storage, ds: date) -> SidDataset:
    """The committed training set of ``ds``; its vocabularies are those of its SID version."""
    from components.semantic_ids.api import load_sid_map

    target = layout.partition(layout.DATASETS, ds)
    manifest = partitions.read_manifest(storage, target)  # unpublished: names build-dataset
    sid_map = load_sid_map(storage, ds, version=int(manifest["sid_version"]))
    vocab_sizes = (sid_map.codes_per_level,) * sid_map.levels + (sid_map.dedup_vocab,)
    catalog = storage.read_parquet(f"{target}/{layout.DATASET_CATALOG}")
    _check_tokens(catalog, vocab_sizes, storage.uri(target))
    return SidDataset(ds, manifest, vocab_sizes, catalog, storage)


def _check_tokens(catalog: pa.Table, vocab_sizes: tuple[int, ...], where: str) -> None:
    """Every catalog SID has one token per position, each inside that position's vocabulary."""
    tokens = np.asarray(catalog.column("sid").combine_chunks().flatten(), dtype=np.int64)
    if len(tokens) != len(catalog) * len(vocab_sizes):
        raise BadInput(f"{where}: catalog SIDs are not all {len(vocab_sizes)} tokens long")
    per_position = tokens.reshape(len(catalog), len(vocab_sizes))
    too_big = per_position.max(axis=0, initial=0) >= np.asarray(vocab_sizes)
    if too_big.any() or per_position.min(initial=0) < 0:
        raise BadInput(
            f"{where}: catalog SID tokens fall outside the vocabularies {list(vocab_sizes)} "
            f"of its SID version (positions {np.flatnonzero(too_big).tolist()})"
        )
