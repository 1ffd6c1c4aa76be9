"""The validate stage: judge each curated partition of a run's window and store the verdict."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pyarrow.compute as pc

from components.core.config import PipelineConfig, ValidationConfig
from components.core.layout import RAW_CATALOG, partition, window
from components.core.partitions import read_manifest
from components.core.spark_errors import spark_stage
from components.core.storage import Storage, open_storage
from components.validate.baseline import trailing_volume
from components.validate.engines import Engine, open_engine
from components.validate.expectations import build_suite
from components.validate.report import write_report
from components.validate.result import PartitionResult
from components.validate.runner import run_suite

log = logging.getLogger(__name__)


@spark_stage("validate")
def validate_window(config: PipelineConfig, ds: date, lookback_days: int) -> list[PartitionResult]:
    """Validate every partition extract rewrote for ``ds``, storing each verdict."""
    storage = open_storage(config.storage)
    engine = open_engine(config, ds)
    results = []
    # Oldest first: a day's volume baseline includes the days just validated before it.
    for dt in window(ds, lookback_days):
        result = validate_partition(storage, engine, dt, ds, config.validation)
        write_report(storage, result)
        log.info(
            "dt=%s %s: %d rows, %d expectations, %d failed, %d skipped",
            dt,
            "passed" if result.success else "FAILED",
            result.rows,
            len(result.outcomes),
            len(result.failures),
            len(result.skipped),
        )
        for outcome in result.skipped:
            log.warning("dt=%s: not checked: %s", dt, outcome.summary())
        results.append(result)
    return results


def validate_partition(
    storage: Storage, engine: Engine, dt: date, ds: date, config: ValidationConfig
) -> PartitionResult:
    """Run the suite on the committed curated partition of ``dt`` with ``engine``."""
    manifest, frame, rows = engine.load(storage, dt)
    suite = build_suite(
        dt,
        config,
        known_item_ids(storage, dt),
        manifest_rows=int(manifest["rows"]),
        volume=trailing_volume(storage, dt, config.volume_trailing_days),
        type_name=engine.type_name,
    )
    outcomes = run_suite(frame, suite.suite)
    return PartitionResult(
        dt=dt,
        ds=ds,
        published_at=manifest["published_at"],
        rows=rows,
        validated_at=datetime.now(UTC).isoformat(),
        outcomes=(*outcomes, *suite.not_evaluated),
    )


def known_item_ids(storage: Storage, dt: date) -> list[int]:
    """Item ids in the committed catalog snapshot of ``dt``."""
    snapshot = partition(RAW_CATALOG, dt)
    read_manifest(storage, snapshot)  # only a committed snapshot counts
    item_ids = pc.unique(storage.read_parquet(snapshot, columns=["item_id"])["item_id"])
    return item_ids.drop_null().to_pylist()
