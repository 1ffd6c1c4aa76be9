"""Two expectations of the curated suite that GX's own cannot give on every engine, as GX metrics
with a pandas and a Spark implementation. Importing this module registers them with GX.

- The click-through rate is the mean of a boolean column, and GX's mean refuses booleans on
  Spark (it only averages numeric types): ``ExpectColumnTrueShareToBeBetween``.
- GX's in-set check puts the set into Spark's plan as literals, sent one by one over py4j and
  planned again for every metric: minutes for a catalog of 200k items, however small the day.
  ``ExpectColumnValuesToBeInIdSet`` tests membership in a vectorized UDF against the sorted ids,
  shipped once with the function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine, SparkDFExecutionEngine
from great_expectations.expectations import (
    ExpectColumnMeanToBeBetween,
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_partial,
    column_aggregate_value,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

TRUE_SHARE = "column.true_share"
IN_ID_SET = "column_values.in_id_set"


class ColumnTrueShare(ColumnAggregateMetricProvider):
    """The mean of a boolean column: true counts 1, false 0, nulls are left out."""

    metric_name = TRUE_SHARE

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, **kwargs: Any) -> float:
        return float(column.mean())

    @column_aggregate_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column: Any, **kwargs: Any) -> Any:
        from pyspark.sql import functions as F

        return F.mean(column.cast("double"))


class ExpectColumnTrueShareToBeBetween(ExpectColumnMeanToBeBetween):
    """Expect the share of true values of a boolean column to be between two bounds."""

    metric_dependencies = (TRUE_SHARE,)

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> Any:
        return self._validate_metric_value_between(
            metric_name=TRUE_SHARE,
            metrics=metrics,
            runtime_configuration=runtime_configuration,
            execution_engine=execution_engine,
        )


class ColumnValuesInIdSet(ColumnMapMetricProvider):
    """Whether each value of an integer column is one of ``value_set``."""

    condition_metric_name = IN_ID_SET
    condition_value_keys = ("value_set",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: Any, value_set: Any, **kwargs: Any) -> Any:
        return column.isin(value_set)

    @column_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column: Any, value_set: Any, **kwargs: Any) -> Any:
        return _member_of(np.unique(np.asarray(value_set, dtype=np.int64)))(column)


class ExpectColumnValuesToBeInIdSet(ExpectColumnValuesToBeInSet):
    """Expect each value of an integer id column to be one of a set of ids, however large."""

    map_metric = IN_ID_SET


def _member_of(ids: np.ndarray) -> Any:
    """A vectorized Spark UDF: is each value one of the sorted, distinct ``ids``?"""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("boolean")  # type: ignore[call-overload]
    def member(values: pd.Series) -> pd.Series:
        if len(ids) == 0:
            return pd.Series(np.zeros(len(values), dtype=bool))
        # A binary search per value: a batch costs log(ids), not a sort of batch and ids.
        found = np.searchsorted(ids, values.to_numpy()).clip(max=len(ids) - 1)
        return pd.Series(ids[found] == values.to_numpy())

    return member
