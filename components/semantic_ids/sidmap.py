"""The item <-> SID map of one day, in memory (numpy columns) and as stored (Arrow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from components.semantic_ids.codes import dedup_indices, require_bijection, sid_strings

CODE_PREFIX = "code_"  # code_1 ... code_<levels>, then dedup


@dataclass(frozen=True)
class SidTable:
    item_ids: np.ndarray  # int64, ascending
    codes: np.ndarray  # int32 (items, levels)
    dedup: np.ndarray  # int32: tells apart items with equal codes
    listed: np.ndarray  # bool: in the catalog snapshot of the map's day (else retired)
    assigned_on: np.ndarray  # datetime64[D]: the day the item got its SID

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def levels(self) -> int:
        return int(self.codes.shape[1])

    def to_arrow(self) -> pa.Table:
        sids = sid_strings(self.codes, self.dedup)
        require_bijection(self.item_ids, sids)
        return pa.table(
            {
                "item_id": pa.array(self.item_ids, pa.int64()),
                **{
                    f"{CODE_PREFIX}{level + 1}": pa.array(self.codes[:, level], pa.int32())
                    for level in range(self.levels)
                },
                "dedup": pa.array(self.dedup, pa.int32()),
                "sid": pa.array(sids, pa.string()),
                "listed": pa.array(self.listed, pa.bool_()),
                "assigned_on": pa.array(self.assigned_on, pa.date32()),
            }
        )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> SidTable:
        table = table.sort_by("item_id")
        levels = sum(name.startswith(CODE_PREFIX) for name in table.column_names)
        return cls(
            item_ids=table["item_id"].to_numpy(),
            codes=np.column_stack(
                [table[f"{CODE_PREFIX}{level + 1}"].to_numpy() for level in range(levels)]
            ).astype(np.int32),
            dedup=table["dedup"].to_numpy().astype(np.int32),
            listed=table["listed"].to_numpy(zero_copy_only=False),
            assigned_on=table["assigned_on"].to_numpy().astype("datetime64[D]"),
        )


def fresh_table(item_ids: np.ndarray, codes: np.ndarray, ds: date, dedup_vocab: int) -> SidTable:
    """The map right after a fit: every item of the catalog, de-duplicated from scratch."""
    return SidTable(
        item_ids=item_ids,
        codes=codes,
        dedup=dedup_indices(codes, dedup_vocab),
        listed=np.ones(len(item_ids), dtype=bool),
        assigned_on=np.full(len(item_ids), np.datetime64(ds, "D")),
    )


def extend_table(
    base: SidTable,
    listed_ids: np.ndarray,
    new_ids: np.ndarray,
    new_codes: np.ndarray,
    ds: date,
    dedup_vocab: int,
) -> SidTable:
    """``base`` with its SIDs untouched plus the new items, which take the next free dedup
    index of their codes. Items that left the catalog stay, unlisted, so that their SIDs are
    never given to another item within this codebook version."""
    item_ids = np.concatenate([base.item_ids, new_ids])
    order = np.argsort(item_ids, kind="stable")
    return SidTable(
        item_ids=item_ids[order],
        codes=np.concatenate([base.codes, new_codes])[order],
        dedup=np.concatenate(
            [base.dedup, dedup_indices(new_codes, dedup_vocab, base.codes, base.dedup)]
        )[order],
        listed=np.isin(item_ids[order], listed_ids),
        assigned_on=np.concatenate(
            [base.assigned_on, np.full(len(new_ids), np.datetime64(ds, "D"))]
        )[order],
    )
