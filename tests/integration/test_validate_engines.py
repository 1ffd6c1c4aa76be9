"""Validation on Spark and on pandas: the same suite, the same verdicts and the same findings
on the tiny shop's days; only the type names each engine observes differ."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from components import cli
from components.core.config import PipelineConfig
from components.core.schemas import CURATED_EXPOSURE
from components.core.storage import LocalStorage
from components.validate.engines import PandasEngine, SparkEngine
from components.validate.result import result_key

pytestmark = pytest.mark.spark

LAST_DAY = date(2026, 11, 3)
DAYS = [LAST_DAY - timedelta(days=offset) for offset in (2, 1, 0)]
TYPE_CHECK = "expect_column_values_to_be_of_type"


def test_spark_and_pandas_reach_the_same_verdicts_on_the_tiny_shop(
    tiny_shop: PipelineConfig, tmp_path: Path
) -> None:
    spark_root = Path(tiny_shop.storage.root)  # the tiny shop is validated on Spark
    pandas_root = tmp_path / "root"
    shutil.copytree(spark_root, pandas_root, ignore=shutil.ignore_patterns("_staging"))
    window = ["--ds", LAST_DAY.isoformat(), "--lookback-days", str(len(DAYS))]
    settings = ["--set", "validation.engine=pandas", "--set", "spark.master=local[2]"]

    assert cli.main(["validate", "--root", str(pandas_root), *window, *settings]) == 0

    for day in DAYS:
        on_spark = LocalStorage(spark_root).read_json(result_key(day))
        on_pandas = LocalStorage(pandas_root).read_json(result_key(day))
        assert without_type_names(on_spark) == without_type_names(on_pandas)
        assert type_names(on_spark) == expected_type_names(SparkEngine.type_name)
        assert type_names(on_pandas) == expected_type_names(PandasEngine.type_name)
        assert on_spark["success"] is True and on_spark["rows"] > 0


def without_type_names(result: dict[str, Any]) -> dict[str, Any]:
    """The result without when it ran and without what the type checks observed."""
    expectations = [
        {**e, "observed_value": None} if e["type"] == TYPE_CHECK else e
        for e in result["expectations"]
    ]
    return {**result, "validated_at": None, "expectations": expectations}


def type_names(result: dict[str, Any]) -> dict[str, str]:
    checks = [e for e in result["expectations"] if e["type"] == TYPE_CHECK]
    return {e["columns"][0]: e["observed_value"] for e in checks}


def expected_type_names(name: Callable[[pa.DataType], str]) -> dict[str, str]:
    return {field.name: name(field.type) for field in CURATED_EXPOSURE}
