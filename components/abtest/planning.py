"""How many users an A/B test needs, planned from the logs before it starts.

The readout treats users as the unit (the delta method over users), so the plan does too: the
per-user variance of CTR over the ``ab_test.planning_days`` days of curated exposures before the
start, the champion's traffic, gives the users a test of that length needs to detect
``ab_test.min_detectable_lift`` at ``ab_test.alpha`` and ``ab_test.power``. An exposure-level
plan would understate it by the correlation of one user's exposures.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from components.abtest.statistics import required_users
from components.core import layout, partitions
from components.core.config import ABTestConfig
from components.core.storage import Storage


def plan_users(storage: Storage, ds: date, settings: ABTestConfig) -> dict[str, Any] | None:
    """The users a test starting after ``ds`` needs, from the window's curated exposures; None
    when no day of the window is published (a registry used apart from its data)."""
    days = layout.window(ds, settings.planning_days)
    keys = [layout.partition(layout.CURATED_EXPOSURES, day) for day in days]
    frames = [
        storage.read_parquet(key, columns=["user_id", "clicked"]).to_pandas()
        for key in keys
        if partitions.is_published(storage, key)
    ]
    if not frames:
        return None
    logs = pd.concat(frames, ignore_index=True)
    per_user = (
        logs.assign(exposures=1, clicked=logs["clicked"].astype(float))
        .groupby("user_id")[["exposures", "clicked"]]
        .sum()
    )
    plan = required_users(
        per_user, settings.min_detectable_lift, settings.alpha, settings.power,
        settings.treatment_share,
    )  # fmt: skip
    return {**plan, "planning_days": [days[0].isoformat(), days[-1].isoformat()],
            "users_seen": len(per_user)}  # fmt: skip
