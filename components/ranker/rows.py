"""The ranker's training rows as the features stage published them, one file per exposure day,
and the rule that keeps the policy's held-out positives out of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from components.core import partitions
from components.core.errors import BadInput
from components.core.layout import RANKER_ROWS, partition, ranker_rows_file
from components.core.storage import Storage
from components.datasets.reader import SidDataset
from components.features.schema import EVENT_TIMESTAMP
from components.features.training_rows import LABEL

# What before_holdout reads of a row.
HOLDOUT_COLUMNS = ["user_id", EVENT_TIMESTAMP]


@dataclass(frozen=True)
class RankerRows:
    features: list[str]  # the Feast feature columns, as the manifest lists them
    files: dict[date, str]  # each exposure day's file, oldest day first

    def split_last_day(self) -> tuple[dict[date, str], dict[date, str]]:
        """Train on every day but the last, evaluate on the last: a later day, as in production."""
        if len(self.files) < 2:
            raise BadInput(f"the ranker needs at least 2 exposure days, got {len(self.files)}")
        *train_days, eval_day = self.files
        return {day: self.files[day] for day in train_days}, {eval_day: self.files[eval_day]}


def load_rows(storage: Storage, ds: date) -> RankerRows:
    """The committed ranker rows of ``ds``: exactly the files its manifest lists."""
    target = partition(RANKER_ROWS, ds)
    manifest = partitions.read_manifest(storage, target)
    if manifest["label"] != LABEL:
        raise BadInput(f"{target}: label {manifest['label']!r}, expected {LABEL!r}")
    days = sorted(date.fromisoformat(day) for day in manifest["exposure_days"])
    files = {day: f"{target}/{ranker_rows_file(day)}" for day in days}
    return RankerRows(features=list(manifest["features"]), files=files)


def holdout_starts(dataset: SidDataset) -> pd.Series:
    """When each user's held-out positives begin: the time of their earliest validation or test
    target, indexed by user id (users without one are absent)."""
    held_out = pd.concat(
        dataset.split(name).select(["user_id", "target_ts"]).to_pandas()
        for name in ("valid", "test")
    )
    return pd.to_datetime(held_out["target_ts"], utc=True).groupby(held_out["user_id"]).min()


def before_holdout(rows: pd.DataFrame, starts: pd.Series) -> np.ndarray:
    """Which ``rows`` (of ``HOLDOUT_COLUMNS`` at least) were shown to their user before the
    user's held-out positives began.

    A reward model that saw a user click their validation or test item would pass that item to
    the policy it rewards, and evaluation would score the leak. Whole slates go: the held-out
    click's neighbours say as much about it as the click itself.
    """
    start = rows["user_id"].map(starts)
    shown = pd.to_datetime(rows[EVENT_TIMESTAMP], utc=True)
    return np.asarray(start.isna() | (shown < start))
