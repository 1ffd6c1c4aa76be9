"""The share of true values in a boolean column, as a GX metric and expectation on every engine.

GX's own mean refuses a boolean column on Spark (it only averages numeric types), and the
click-through rate is exactly that mean. Importing this module registers both with GX.
"""

from __future__ import annotations

from typing import Any

from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.expectations import ExpectColumnMeanToBeBetween
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_partial,
    column_aggregate_value,
)

METRIC = "column.true_share"


class ColumnTrueShare(ColumnAggregateMetricProvider):
    """The mean of a boolean column: true counts 1, false 0, nulls are left out."""

    metric_name = METRIC

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **kwargs: Any) -> float:
        return float(column.mean())

    @column_aggregate_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column: Any, **kwargs: Any) -> Any:
        from pyspark.sql import functions as F

        return F.mean(column.cast("double"))


class ExpectColumnTrueShareToBeBetween(ExpectColumnMeanToBeBetween):
    """Expect the share of true values of a boolean column to be between two bounds."""

    metric_dependencies = (METRIC,)

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> Any:
        return self._validate_metric_value_between(
            metric_name=METRIC,
            metrics=metrics,
            runtime_configuration=runtime_configuration,
            execution_engine=execution_engine,
        )
