"""Spark's failures as our errors: what a person can fix is one line naming it, the rest is left
to propagate as a bug. The failures themselves are raised by a real Spark in
``tests/integration/test_reliability.py``; here each rule is checked on Spark's own words."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from components.core.config import SparkConfig, StorageConfig
from components.core.spark_errors import (
    SparkFailure,
    SparkInputError,
    spark_failures,
    translate,
    written_folders,
)

TYPE_MISMATCH = SparkFailure(
    "FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH",
    {
        "path": "file:///lake/raw/exposures/dt=2026-11-03/part-00000.parquet",
        "column": "[user_id]",
        "expectedType": "bigint",
        "actualType": "BINARY",
    },
    ("org.apache.spark.SparkException: [FAILED_READ_FILE...] Encountered error ...",),
)


def test_a_column_of_another_type_names_the_file_the_column_and_both_types() -> None:
    error = translate(TYPE_MISMATCH, "extract", [])

    assert isinstance(error, SparkInputError)
    assert str(error) == (
        "/lake/raw/exposures/dt=2026-11-03/part-00000.parquet: column user_id is stored as "
        "BINARY, the contract says bigint: fix the file's producer and publish its partition again"
    )


def test_a_full_disk_names_the_fullest_device_among_those_the_job_writes(tmp_path: Path) -> None:
    failure = SparkFailure(
        "TASK_WRITE_FAILED",
        {},
        ("org.apache.spark.SparkException: [TASK_WRITE_FAILED] ...", "No space left on device"),
    )
    error = translate(failure, "extract", [str(tmp_path / "root" / "not-yet-made")])

    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert "extract: No space left on device: /" in str(error)
    assert "nothing was published" in str(error)


def test_an_analysis_error_is_one_line_naming_the_stage() -> None:
    failure = SparkFailure(
        "UNRESOLVED_COLUMN.WITH_SUGGESTION",
        {"objectName": "`clicks`"},
        ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `clicks` cannot be resolved.\n== SQL ==",),
    )
    error = translate(failure, "build-dataset", [])

    assert str(error) == (
        "build-dataset: Spark cannot plan the job: "
        "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `clicks` cannot be resolved."
    )


def test_a_failure_nobody_can_fix_by_hand_is_left_as_it_is() -> None:
    failure = SparkFailure("INTERNAL_ERROR", {}, ("[INTERNAL_ERROR] The Spark SQL phase failed",))

    assert translate(failure, "extract", []) is None
    with (
        pytest.raises(RuntimeError, match="not Spark's"),
        spark_failures("extract", SparkConfig(), StorageConfig()),
    ):
        raise RuntimeError("not Spark's")


def test_the_folders_measured_are_the_local_root_and_sparks_scratch() -> None:
    local = written_folders(
        SparkConfig(conf={"spark.local.dir": "/scratch/a,/scratch/b"}), StorageConfig(root="/lake")
    )
    remote = written_folders(
        SparkConfig(conf={"spark.local.dir": "/scratch"}), StorageConfig(root="s3://bucket/lake")
    )

    assert local == ["/lake", "/scratch/a", "/scratch/b"]
    assert remote == ["/scratch"]
