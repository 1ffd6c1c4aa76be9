"""The validate stage: judge each curated partition of a run's window and store the verdict."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from components.core.config import ValidationConfig
from components.core.errors import BadInput
from components.core.layout import CURATED_EXPOSURES, RAW_CATALOG, partition, window
from components.core.partitions import read_manifest
from components.core.storage import Storage
from components.validate.baseline import trailing_volume
from components.validate.expectations import build_suite
from components.validate.frame import to_frame
from components.validate.report import write_report
from components.validate.result import PartitionResult
from components.validate.runner import run_suite

log = logging.getLogger(__name__)


def validate_window(
    storage: Storage, ds: date, lookback_days: int, config: ValidationConfig
) -> list[PartitionResult]:
    """Validate every partition extract rewrote for ``ds``, storing each verdict."""
    results = []
    # Oldest first: a day's volume baseline includes the days just validated before it.
    for dt in window(ds, lookback_days):
        result = validate_partition(storage, dt, ds, config)
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
    storage: Storage, dt: date, ds: date, config: ValidationConfig
) -> PartitionResult:
    """Run the suite on the committed curated partition of ``dt``."""
    manifest, table = load_curated(storage, dt)
    suite = build_suite(
        dt,
        config,
        known_item_ids(storage, dt),
        manifest_rows=int(manifest["rows"]),
        volume=trailing_volume(storage, dt, config.volume_trailing_days),
    )
    outcomes = run_suite(to_frame(table), suite.suite)
    return PartitionResult(
        dt=dt,
        ds=ds,
        published_at=manifest["published_at"],
        rows=table.num_rows,
        validated_at=datetime.now(UTC).isoformat(),
        outcomes=(*outcomes, *suite.not_evaluated),
    )


def load_curated(storage: Storage, dt: date) -> tuple[dict[str, Any], pa.Table]:
    """The manifest and rows of the committed curated partition of ``dt``."""
    target = partition(CURATED_EXPOSURES, dt)
    manifest = read_manifest(storage, target)  # raises, naming the path, if not committed
    # Exactly the committed files: the verdict must describe the publication it names.
    files = [storage.read_parquet(f"{target}/{name}") for name in manifest["files"]]
    if not files:
        raise BadInput(f"{storage.uri(target)} is published with no data files")
    return manifest, pa.concat_tables(files)


def known_item_ids(storage: Storage, dt: date) -> list[int]:
    """Item ids in the committed catalog snapshot of ``dt``."""
    snapshot = partition(RAW_CATALOG, dt)
    read_manifest(storage, snapshot)  # only a committed snapshot counts
    item_ids = pc.unique(storage.read_parquet(snapshot, columns=["item_id"])["item_id"])
    return item_ids.drop_null().to_pylist()
