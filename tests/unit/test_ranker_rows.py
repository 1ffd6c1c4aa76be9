"""The ranker's rows keep nothing from a user's held-out positives on."""

from __future__ import annotations

import pandas as pd

from components.ranker.rows import before_holdout


def at(hour: int) -> pd.Timestamp:
    return pd.Timestamp(2026, 11, 3, hour, tz="UTC")


def test_rows_from_a_users_first_held_out_positive_on_are_dropped() -> None:
    rows = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3],
            "item_id": [10, 11, 12, 10, 13, 14],
            "event_timestamp": [at(1), at(5), at(6), at(2), at(9), at(4)],
        }
    )
    starts = pd.Series([at(5), at(9)], index=pd.Index([1, 2], name="user_id"))

    kept = rows[before_holdout(rows, starts)]

    # User 1 loses the held-out slate (hour 5) and what came after; user 3 has no holdout.
    assert kept[["user_id", "item_id"]].values.tolist() == [[1, 10], [2, 10], [3, 14]]
