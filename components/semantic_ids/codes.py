"""From per-level codes to unique SIDs: the de-duplication token, SID strings and statistics.

Items whose codes agree on every level (a "collision") are told apart by one more token, the
de-duplication index: 0, 1, 2, ... in item-id order within the shared code. Indices already
given out are never changed, so new items take the next free index of their code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.core.errors import BadInput


class DedupOverflow(BadInput):
    """More items share one code than the de-duplication token can tell apart."""


def dedup_indices(
    codes: np.ndarray,
    dedup_vocab: int,
    taken_codes: np.ndarray | None = None,
    taken_dedup: np.ndarray | None = None,
) -> np.ndarray:
    """De-duplication indices for ``codes`` (rows in item-id order), after those ``taken``."""
    taken_codes = codes[:0] if taken_codes is None else taken_codes
    taken_dedup = np.empty(0, np.int64) if taken_dedup is None else taken_dedup
    _, groups = np.unique(np.concatenate([taken_codes, codes]), axis=0, return_inverse=True)
    groups = groups.reshape(-1)
    taken_groups, new_groups = groups[: len(taken_codes)], groups[len(taken_codes) :]
    next_free = np.zeros(groups.max(initial=-1) + 1, dtype=np.int64)
    np.maximum.at(next_free, taken_groups, taken_dedup.astype(np.int64) + 1)
    dedup = next_free[new_groups] + _rank_within_groups(new_groups)
    if len(dedup) and dedup.max() >= dedup_vocab:
        worst = int(np.argmax(dedup))
        raise DedupOverflow(
            f"{dedup[worst] + 1} items share the code {sid_string(codes[worst])}, but the "
            f"de-duplication token holds only {dedup_vocab} values; refit the codebook "
            "(--refit), or raise semantic_ids.codebook_size or semantic_ids.levels"
        )
    return dedup.astype(np.int32)


def _rank_within_groups(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... for the members of each group, in their order of appearance."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    first_of_group = np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(groups)) - first_of_group
    return rank


def sid_string(tokens: np.ndarray) -> str:
    """``12-7-201-0``: the codes per level and, when given, the de-duplication index."""
    return "-".join(str(int(token)) for token in tokens)


def sid_strings(codes: np.ndarray, dedup: np.ndarray) -> list[str]:
    return [sid_string(row) for row in np.column_stack([codes, dedup])]


def require_bijection(item_ids: np.ndarray, sids: list[str]) -> None:
    """Every item has one SID and every SID one item; anything else is a bug, so fail loudly."""
    if len(np.unique(item_ids)) != len(item_ids):
        raise AssertionError("the SID map lists an item twice")
    if len(set(sids)) != len(sids):
        raise AssertionError("the SID map gives one SID to two items")


@dataclass(frozen=True)
class CodeStats:
    items: int
    collision_rate: float  # share of items whose codes (without the dedup token) are shared
    max_dedup_index: int
    codes_used: tuple[int, ...]  # distinct codes per level
    utilization: tuple[float, ...]  # codes_used / codebook size, per level
    items_per_code: tuple[np.ndarray, ...]  # per level, item counts of every code (for plots)
    items_per_sid_prefix: np.ndarray  # items sharing each full code (1 = no collision)

    def to_json(self) -> dict[str, object]:
        return {
            "collision_rate": round(self.collision_rate, 6),
            "max_dedup_index": self.max_dedup_index,
            "codes_used": list(self.codes_used),
            "utilization": [round(share, 4) for share in self.utilization],
        }


def code_stats(codes: np.ndarray, dedup: np.ndarray, codebook_size: int) -> CodeStats:
    _, prefix_of_item, group_sizes = np.unique(
        codes, axis=0, return_inverse=True, return_counts=True
    )
    per_level = tuple(
        np.bincount(codes[:, level], minlength=codebook_size) for level in range(codes.shape[1])
    )
    used = tuple(int(np.count_nonzero(counts)) for counts in per_level)
    return CodeStats(
        items=len(codes),
        collision_rate=float(np.mean(group_sizes[prefix_of_item.reshape(-1)] > 1)),
        max_dedup_index=int(dedup.max(initial=0)),
        codes_used=used,
        utilization=tuple(count / codebook_size for count in used),
        items_per_code=per_level,
        items_per_sid_prefix=group_sizes,
    )
