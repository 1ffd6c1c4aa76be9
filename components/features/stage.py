"""The features stage for one logical date: snapshots, Feast apply and materialize, ranker rows."""

from __future__ import annotations

import logging
from datetime import date

from components.core.config import PipelineConfig
from components.core.spark import spark_session
from components.core.spark_errors import spark_stage
from components.core.storage import open_storage
from components.features.compute import publish_snapshots
from components.features.days import RunDays, run_days
from components.features.feast_repo import apply_repo, materialize, open_store
from components.features.schema import snapshot_time
from components.features.training_rows import TrainingRows, publish_training_rows

log = logging.getLogger(__name__)


@spark_stage("features")
def build_features(config: PipelineConfig, ds: date) -> TrainingRows:
    """Publish the snapshots a run for ``ds`` needs, serve them with Feast, publish the rows.

    Rerunning a day republishes the same snapshots, rows and online values; every curated
    partition read must have passed validation.
    """
    storage = open_storage(config.storage)
    days = run_days(storage, ds, config.features)
    spark = spark_session(config.spark, config.storage, app_name=f"adagrpo-features-{ds}")
    snapshot_rows = publish_snapshots(spark, storage, days, config.features.windows_days)
    for view, rows in snapshot_rows.items():
        log.info("%s: %s rows in %d daily snapshot(s)", view, f"{sum(rows.values()):,}", len(rows))
    return serve_features(config, ds, days)


def serve_features(config: PipelineConfig, ds: date, days: RunDays) -> TrainingRows:
    """Feast's half, without Spark: register the views over the published snapshots of
    ``days``, materialize the online store up to ``ds``, publish the ranker rows of ``ds``."""
    storage = open_storage(config.storage)
    windows = config.features.windows_days
    store = open_store(config.features, storage)
    apply_repo(store, storage, windows)
    materialize(store, snapshot_time(ds))

    exposure_files = {day: days.files[day] for day in days.training}
    training_rows = publish_training_rows(
        store, storage, ds, exposure_files, windows, config.features.join_rows
    )
    log.info(
        "ranker rows for %s: %s exposures of %d day(s), %d features",
        ds,
        f"{training_rows.rows:,}",
        len(training_rows.rows_by_day),
        len(training_rows.features),
    )
    return training_rows
