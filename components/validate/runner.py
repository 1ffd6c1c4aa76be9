"""Run a suite on a pandas or Spark DataFrame with Great Expectations; typed outcomes."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import great_expectations as gx
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.util import convert_to_json_serializable

from components.validate.result import ExpectationOutcome, Status

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame

UNEXPECTED_EXAMPLES = 5
# BASIC keeps a handful of unexpected values; SUMMARY and COMPLETE also count and index the
# unexpected rows, which costs seconds on a partition with many bad rows and adds nothing here.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": UNEXPECTED_EXAMPLES}
_COLUMN_KWARGS = ("column", "column_A", "column_B")


def run_suite(
    frame: pd.DataFrame | SparkFrame, suite: gx.ExpectationSuite
) -> list[ExpectationOutcome]:
    """Validate ``frame``; outcomes follow the suite's order, whatever order GX ran them in.

    On Spark every metric is an aggregate computed where the data is; only counts and a few
    unexpected examples reach the driver. The frame is not cached (GX's default): each group
    of metrics scans the files again rather than holding the day in executor memory.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # keep logs readable
    sources = context.data_sources
    source = (
        sources.add_pandas("curated")
        if isinstance(frame, pd.DataFrame)
        else sources.add_spark("curated", persist=False)
    )
    batch = (
        source.add_dataframe_asset("exposures")
        .add_batch_definition_whole_dataframe("partition")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    results = batch.validate(suite, result_format=RESULT_FORMAT).results
    outcomes = [_outcome(result, frame.columns) for result in results]
    order = {expectation.description: i for i, expectation in enumerate(suite.expectations)}
    return sorted(outcomes, key=lambda outcome: order[outcome.rule])


def _outcome(
    result: ExpectationValidationResult, frame_columns: Collection[str]
) -> ExpectationOutcome:
    config = result.expectation_config
    if config is None or config.description is None:
        raise RuntimeError(f"GX returned a result without its described expectation: {result}")
    columns = tuple(config.kwargs[key] for key in _COLUMN_KWARGS if key in config.kwargs)
    found: dict[str, Any] = convert_to_json_serializable(result.result)
    errors = _exception_messages(result.exception_info)
    details: str | None
    if errors:
        missing = [column for column in columns if column not in frame_columns]
        status = Status.ERROR
        details = f"column {', '.join(missing)} is missing" if missing else "; ".join(errors)
    else:
        status = Status.PASSED if result.success else Status.FAILED
        details = json.dumps(found["details"]) if "details" in found else None
    return ExpectationOutcome(
        expectation_type=config.type,
        columns=columns,
        rule=config.description,
        status=status,
        observed_value=found.get("observed_value"),
        unexpected_count=found.get("unexpected_count"),
        unexpected_percent=found.get("unexpected_percent"),
        unexpected_examples=tuple(found.get("partial_unexpected_list", ())),
        details=details,
    )


def _exception_messages(info: Mapping[str, Any]) -> list[str]:
    """GX reports one exception flat, or several keyed by the metric that raised them."""
    entries = [info] if "raised_exception" in info else list(info.values())
    return sorted({e["exception_message"] for e in entries if e.get("raised_exception")})
