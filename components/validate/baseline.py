"""The row-volume baseline of a day: its trailing days that passed validation."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from components.core.layout import window
from components.core.partitions import PartitionNotPublished
from components.core.storage import Storage
from components.validate.gate import PartitionFailedValidation, require_validated

MIN_TRAILING_DAYS = 3  # a median of fewer days is too noisy to judge a day's volume by


@dataclass(frozen=True)
class VolumeBaseline:
    trailing_days: int  # how many days were looked at
    row_counts: dict[date, int]  # the ones that passed validation, with their manifest rows

    @property
    def median(self) -> float | None:
        """The median row count, or None when too few days passed to trust it."""
        if len(self.row_counts) < MIN_TRAILING_DAYS:
            return None
        return float(statistics.median(self.row_counts.values()))


def trailing_volume(storage: Storage, dt: date, trailing_days: int) -> VolumeBaseline:
    """Row counts of the ``trailing_days`` days before ``dt``, read from their manifests."""
    row_counts: dict[date, int] = {}
    for day in window(dt - timedelta(days=1), trailing_days):
        try:
            manifest = require_validated(storage, day)
        except (PartitionNotPublished, PartitionFailedValidation):
            continue  # a missing or bad day must not drag the baseline
        row_counts[day] = int(manifest["rows"])
    return VolumeBaseline(trailing_days, row_counts)
