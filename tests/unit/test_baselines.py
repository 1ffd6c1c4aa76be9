"""The item-transition reference point of the quality benchmark, on hand-made splits."""

from __future__ import annotations

import pyarrow as pa
import pytest

from benchmarks.baselines import item_transitions


def examples(rows: list[tuple[list[int], int]]) -> pa.Table:
    return pa.table({
        "history_item_ids": pa.array([history for history, _ in rows], pa.list_(pa.int64())),
        "target_item_id": pa.array([target for _, target in rows], pa.int64()),
    })  # fmt: skip


def test_followers_of_recent_items_rank_first_then_popular_items() -> None:
    # 1 -> 2 twice, 1 -> 3 once, 4 -> 5 three times; popular targets: 5, 2, 3.
    train = examples([([1], 2), ([9, 1], 2), ([1], 3), ([4], 5), ([4], 5), ([7, 4], 5)])
    # User A's last item is 1 (followers 2: 2.0, 3: 1.0); before it 4 (5: 3 x 0.5 = 1.5).
    # User B's history has no known transitions: popularity alone, 5 first.
    split = examples([([4, 1], 3), ([8], 5)])

    metrics = item_transitions(train, split, ks=(1, 3))

    # A ranks 2, 5, 3: the target 3 is third; B's target 5 is first.
    assert metrics["hr@3"] == 1.0
    assert metrics["ndcg@3"] == pytest.approx((0.5 + 1.0) / 2)
    assert metrics["hr@1"] == 0.5
