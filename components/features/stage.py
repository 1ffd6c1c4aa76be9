"""The features stage for one logical date: snapshots, Feast apply, the online store, rows."""

from __future__ import annotations

import logging
from datetime import date

from feast import FeatureStore

from components.core.config import PipelineConfig
from components.core.spark import spark_session
from components.core.spark_errors import spark_stage
from components.core.storage import Storage, open_storage
from components.features.compute import publish_snapshots
from components.features.days import RunDays, run_days
from components.features.feast_repo import apply_repo, load_online, open_store
from components.features.feast_rows import publish_feast_rows
from components.features.spark_rows import publish_spark_rows
from components.features.training_rows import TrainingRows

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
    if config.features.rows_engine == "feast":
        return serve_features(config, ds, days)
    serve_online(config, storage, ds)
    return logged(publish_spark_rows(spark, storage, ds, days, config.features.windows_days))


def serve_features(config: PipelineConfig, ds: date, days: RunDays) -> TrainingRows:
    """Feast's half, without Spark: over the published snapshots of ``days``, the online store
    of ``ds``, then the ranker rows of ``ds`` by Feast's point-in-time join."""
    storage = open_storage(config.storage)
    store = serve_online(config, storage, ds)
    exposure_files = {day: days.files[day] for day in days.training}
    features = config.features
    return logged(
        publish_feast_rows(
            store, storage, ds, exposure_files, features.windows_days, features.join_rows
        )
    )


def serve_online(config: PipelineConfig, storage: Storage, ds: date) -> FeatureStore:
    """Register the views over the published snapshots; load the online store with ``ds``'s."""
    windows = config.features.windows_days
    store = open_store(config.features, storage)
    apply_repo(store, storage, windows)
    load_online(store, storage, ds, windows, config.features.online_batch_rows)
    return store


def logged(training_rows: TrainingRows) -> TrainingRows:
    log.info(
        "ranker rows for %s: %s exposures of %d day(s), %d features",
        training_rows.ds,
        f"{training_rows.rows:,}",
        len(training_rows.rows_by_day),
        len(training_rows.features),
    )
    return training_rows
