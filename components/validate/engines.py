"""The engines GX validates a curated partition on. Each reads exactly the files the partition's
manifest commits and names column types as its own type check observes them."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import pyarrow as pa

from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.layout import CURATED_EXPOSURES, partition
from components.core.partitions import read_manifest
from components.core.storage import Storage
from components.validate.frame import gx_type_name, to_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession


class Engine(Protocol):
    def load(self, storage: Storage, dt: date) -> tuple[dict[str, Any], Any, int]:
        """The committed curated partition of ``dt``: its manifest, the frame GX validates and
        its row count."""
        ...

    @staticmethod
    def type_name(arrow_type: pa.DataType) -> str:
        """The name the engine's type check observes for a column stored as ``arrow_type``."""
        ...


class PandasEngine:
    """The partition in memory, as pandas (``frame.py`` keeps its stored types visible)."""

    def load(self, storage: Storage, dt: date) -> tuple[dict[str, Any], pd.DataFrame, int]:
        manifest, keys = committed_files(storage, dt)
        table = pa.concat_tables(storage.read_parquet(key) for key in keys)
        return manifest, to_frame(table), table.num_rows

    @staticmethod
    def type_name(arrow_type: pa.DataType) -> str:
        return gx_type_name(arrow_type)


class SparkEngine:
    """The partition as a Spark DataFrame over its files: nothing is read into the driver."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def load(self, storage: Storage, dt: date) -> tuple[dict[str, Any], SparkFrame, int]:
        manifest, keys = committed_files(storage, dt)
        frame = self.spark.read.parquet(*(storage.uri(key) for key in keys))
        return manifest, frame, frame.count()

    @staticmethod
    def type_name(arrow_type: pa.DataType) -> str:
        from pyspark.sql.pandas.types import from_arrow_type

        return type(from_arrow_type(arrow_type)).__name__


def open_engine(config: PipelineConfig, ds: date) -> Engine:
    """The engine ``validation.engine`` names (Spark started as ``config.spark`` says)."""
    if config.validation.engine == "pandas":
        return PandasEngine()
    from components.core.spark import spark_session

    return SparkEngine(spark_session(config.spark, config.storage, f"adagrpo-validate-{ds}"))


def committed_files(storage: Storage, dt: date) -> tuple[dict[str, Any], list[str]]:
    """The manifest of the committed curated partition of ``dt`` and the data files it lists:
    the verdict must describe the publication it names."""
    target = partition(CURATED_EXPOSURES, dt)
    manifest = read_manifest(storage, target)  # raises, naming the path, if not committed
    if not manifest["files"]:
        raise BadInput(f"{storage.uri(target)} is published with no data files")
    return manifest, [f"{target}/{name}" for name in manifest["files"]]
