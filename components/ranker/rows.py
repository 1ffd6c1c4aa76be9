"""The ranker's training rows as the features stage published them, one frame per exposure day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from components.core import partitions
from components.core.layout import partition
from components.core.storage import Storage
from components.features.training_rows import LABEL, RANKER_ROWS


@dataclass(frozen=True)
class RankerRows:
    features: list[str]  # the Feast feature columns, as the manifest lists them
    by_day: dict[date, pd.DataFrame]  # oldest day first

    def split_last_day(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Train on every day but the last, evaluate on the last: a later day, as in production."""
        if len(self.by_day) < 2:
            raise ValueError(f"the ranker needs at least 2 exposure days, got {len(self.by_day)}")
        *train_days, eval_day = self.by_day
        train = pd.concat([self.by_day[day] for day in train_days], ignore_index=True)
        return train, self.by_day[eval_day]


def load_rows(storage: Storage, ds: date) -> RankerRows:
    """The committed ranker rows of ``ds``: exactly the files its manifest lists."""
    target = partition(RANKER_ROWS, ds)
    manifest = partitions.read_manifest(storage, target)
    if manifest["label"] != LABEL:
        raise ValueError(f"{target}: label {manifest['label']!r}, expected {LABEL!r}")
    by_day = {
        date.fromisoformat(day): storage.read_parquet(
            f"{target}/exposures-{day}.parquet"
        ).to_pandas()
        for day in sorted(manifest["exposure_days"])
    }
    return RankerRows(features=list(manifest["features"]), by_day=by_day)
