"""Which days one run of the features stage reads and (re)publishes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from components.core.config import FeatureConfig
from components.core.layout import CURATED_EXPOSURES, partition, window
from components.core.partitions import PartitionNotPublished, is_published
from components.core.storage import Storage
from components.validate.gate import require_validated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunDays:
    history: list[date]  # validated curated days the snapshots aggregate
    snapshots: list[date]  # days whose snapshots are published: each training day - 1, and ds
    training: list[date]  # days whose exposures become ranker training rows


def run_days(storage: Storage, ds: date, config: FeatureConfig) -> RunDays:
    """The days of the run for ``ds``, once every curated partition it reads passed validation.

    Training exposures of day d get the snapshot of day d - 1, whose longest window reaches
    back ``max(windows_days)`` days; the snapshot of ``ds`` itself is for online serving.
    """
    reach = window(ds, config.training_days + max(config.windows_days))
    history = validated_history(storage, reach)
    return RunDays(
        history=history,
        snapshots=[day for day in window(ds, config.training_days + 1) if day >= history[0]],
        training=[day for day in window(ds, config.training_days) if day >= history[0]],
    )


def validated_history(storage: Storage, days: list[date]) -> list[date]:
    """``days`` from the first committed curated partition on, each one validated.

    Days before the first committed partition precede the shop's history, so windows that
    reach back there are shorter. From it on, a missing partition is an error like a failed one:
    a gap would silently lower every count.
    """
    committed = [day for day in days if is_published(storage, partition(CURATED_EXPOSURES, day))]
    if not committed:
        raise PartitionNotPublished(
            f"no curated partition is published for {days[0]}..{days[-1]} under "
            f"{storage.uri(CURATED_EXPOSURES)}"
        )
    history = [day for day in days if day >= committed[0]]
    if history[0] > days[0]:
        log.info("curated history starts on %s: earlier windows are shorter", history[0])
    for day in history:
        require_validated(storage, day)
    return history
