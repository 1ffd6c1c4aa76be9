"""Which days one run of the features stage reads and (re)publishes, and which files it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from components.core.config import FeatureConfig
from components.core.layout import CURATED_EXPOSURES, partition, window
from components.core.storage import Storage
from components.validate.gate import require_validated, validated_history


@dataclass(frozen=True)
class RunDays:
    history: list[date]  # validated curated days the snapshots aggregate
    snapshots: list[date]  # days whose snapshots are published: each training day - 1, and ds
    training: list[date]  # days whose exposures become ranker training rows
    files: dict[date, list[str]]  # each history day's curated files (keys) the gate checked


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
        files={day: validated_files(storage, day) for day in history},
    )


def validated_files(storage: Storage, day: date) -> list[str]:
    """The files of the curated publication of ``day`` that passed validation.

    Readers read these, never the folder: a republish racing the run then fails the read
    rather than being consumed unvalidated. Checked again here because the list must come from
    the very manifest the gate checked (``validated_history`` keeps only the days).
    """
    target = partition(CURATED_EXPOSURES, day)
    return [f"{target}/{name}" for name in require_validated(storage, day)["files"]]
