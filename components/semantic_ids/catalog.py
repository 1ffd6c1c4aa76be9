"""The catalog snapshot of a logical date: the items that need a SID."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from components.core.layout import RAW_CATALOG, partition
from components.core.partitions import is_published
from components.core.storage import Storage


def read_catalog(storage: Storage, ds: date) -> pa.Table:
    """The committed catalog snapshot of ``ds``, sorted by item id."""
    key = partition(RAW_CATALOG, ds)
    if not is_published(storage, key):
        raise FileNotFoundError(
            f"no catalog snapshot for {ds.isoformat()}: {storage.uri(key)} is not published "
            "(the simulator or the catalog export writes one per day)"
        )
    catalog = storage.read_parquet(key)
    item_ids = catalog["item_id"]
    if catalog.num_rows == 0:
        raise ValueError(f"the catalog snapshot {storage.uri(key)} lists no items")
    if item_ids.null_count:
        raise ValueError(f"the catalog snapshot {storage.uri(key)} has items without an id")
    if len(pc.unique(item_ids)) != catalog.num_rows:
        raise ValueError(f"the catalog snapshot {storage.uri(key)} lists an item id twice")
    return catalog.sort_by("item_id")
