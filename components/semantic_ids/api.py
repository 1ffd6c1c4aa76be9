"""What other stages read: the item <-> SID map published for a logical date.

```python
sid_map = load_sid_map(storage, ds)
sid_map.version            # codebook version: record it with every dataset and model
sid_map.tokens_per_item    # levels + 1 (the de-duplication token)
item_ids, tokens = sid_map.tokens()   # (n,), (n, tokens_per_item) int32
sid_map.table              # Arrow: item_id, code_1..code_L, dedup, sid, listed, assigned_on
```

``listed`` is false for items that left the catalog: they keep their SIDs (no other item gets
them), but are not valid recommendations any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from components.core.errors import MissingInput
from components.core.partitions import is_published
from components.core.storage import Storage
from components.semantic_ids import store
from components.semantic_ids.sidmap import SidTable


class SidMapNotFound(MissingInput):
    """No semantic-IDs run has published a map for the requested day."""


@dataclass(frozen=True)
class SidMap:
    version: int
    ds: date
    codes_per_level: int
    dedup_vocab: int
    table: pa.Table

    @property
    def levels(self) -> int:
        return sum(name.startswith("code_") for name in self.table.column_names)

    @property
    def tokens_per_item(self) -> int:
        return self.levels + 1

    def tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Item ids (ascending) and their tokens: codes per level, then the de-dup index."""
        sids = SidTable.from_arrow(self.table)
        return sids.item_ids, np.column_stack([sids.codes, sids.dedup])


def load_sid_map(storage: Storage, ds: date, version: int | None = None) -> SidMap:
    """The map of ``ds`` in ``version``, by default in the version a run for ``ds`` uses: the
    newest fitted on or before ``ds``, so a rebuild of an old day keeps that day's SIDs."""
    if version is None:
        in_use = store.version_on(storage, ds)
        version = in_use.version if in_use else None
    if version is not None and is_published(storage, store.map_partition(version, ds)):
        table, manifest = store.read_map(storage, version, ds)
        return SidMap(
            version=version,
            ds=ds,
            codes_per_level=int(manifest["codes_per_level"]),
            dedup_vocab=int(manifest["dedup_vocab"]),
            table=table,
        )
    which = f"codebook version {version}" if version is not None else "any codebook version"
    raise SidMapNotFound(
        f"no SID map is published for {ds.isoformat()} in {which} under {storage.uri('sids')}: "
        f"run `adagrpo semantic-ids --ds {ds.isoformat()}` first"
    )
