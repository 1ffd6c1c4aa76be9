"""Spark's failures as our error classes, one line each.

A Spark job that fails on its input raises a Py4J error whose text is the whole Java stack, or a
PySpark exception that carries Spark's error condition. :func:`spark_failures` turns the ones
with a known cause into the errors the CLI reports in one line: bad input (exit 2) for a Parquet
file whose column has another type than the contract (naming the file, the column and both
types), a file Spark cannot read and a query Spark cannot plan; ``DiskFull`` (exit 75) naming the
device and its free space. The original exception stays chained, so ``-v`` logs the Java trace;
any other failure is left as it is: a bug's traceback.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from components.core.config import PipelineConfig, SparkConfig, StorageConfig
from components.core.errors import BadInput, DiskFull

DISK_FULL = "No space left on device"
P = ParamSpec("P")
R = TypeVar("R")
Stage = Callable[Concatenate[PipelineConfig, P], R]


class SparkInputError(BadInput):
    """Spark refused the job's input: the message names the file or the query, and the fix."""


@dataclass(frozen=True)
class SparkFailure:
    """What a Spark exception says, whatever its route to Python (Py4J, PySpark, Connect)."""

    condition: str | None
    parameters: dict[str, str] = field(default_factory=dict)
    messages: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """The first line of the outermost message: Spark's own one-line description."""
        first = next((m for m in self.messages if m.strip()), "")
        return first.strip().splitlines()[0] if first.strip() else ""


@contextmanager
def spark_failures(stage: str, spark: SparkConfig, storage: StorageConfig) -> Iterator[None]:
    """Run Spark work of ``stage``, translating the failures a person can fix."""
    try:
        yield
    except Exception as exc:
        failure = describe(exc)
        translated = (
            None if failure is None else translate(failure, stage, written_folders(spark, storage))
        )
        if translated is None:
            raise
        raise translated from exc  # chained: -v logs Spark's own report


def spark_stage(stage: str) -> Callable[[Stage[P, R]], Stage[P, R]]:
    """Decorate a stage function (config first) whose Spark failures are reported as ours."""

    def decorate(function: Stage[P, R]) -> Stage[P, R]:
        @functools.wraps(function)
        def run(config: PipelineConfig, *args: P.args, **kwargs: P.kwargs) -> R:
            with spark_failures(stage, config.spark, config.storage):
                return function(config, *args, **kwargs)

        return run

    return decorate


def describe(exc: BaseException) -> SparkFailure | None:
    """The condition, parameters and messages of a Spark exception; None for any other."""
    java = getattr(exc, "java_exception", None)  # py4j.protocol.Py4JJavaError
    if java is not None:
        return _describe_java(java)
    get_condition = getattr(exc, "getCondition", None)  # pyspark.errors.PySparkException
    if callable(get_condition):
        parameters = exc.getMessageParameters() or {}  # type: ignore[attr-defined]
        return SparkFailure(
            get_condition(), {k: str(v) for k, v in parameters.items()}, (str(exc),)
        )
    return None


def _describe_java(throwable: Any) -> SparkFailure:
    """Walk the Java cause chain: the first Spark condition found names the failure."""
    from py4j.protocol import Py4JError

    condition, parameters, messages = None, {}, []
    seen = 0
    while throwable is not None and seen < 32:  # a cause chain can, in theory, loop
        messages.append(str(throwable.toString()))
        if condition is None:
            try:  # a SparkThrowable has a condition; any other throwable has no such method
                condition = throwable.getCondition()
                parameters = {str(k): str(v) for k, v in throwable.getMessageParameters().items()}
            except Py4JError:
                pass
        throwable, seen = throwable.getCause(), seen + 1
    return SparkFailure(condition, parameters, tuple(messages))


def written_folders(spark: SparkConfig, storage: StorageConfig) -> list[str]:
    """The local folders a Spark job writes to: the storage root, and where Spark spills and
    shuffles (``spark.local.dir``, else ``SPARK_LOCAL_DIRS``, else the temporary folder)."""
    scratch = spark.conf.get("spark.local.dir") or os.environ.get("SPARK_LOCAL_DIRS", "")
    folders = [storage.root, *(d for d in scratch.split(",") if d)]
    if not scratch:
        folders.append(tempfile.gettempdir())
    return [folder for folder in folders if "://" not in folder]


def translate(failure: SparkFailure, stage: str, writing: list[str]) -> Exception | None:
    """Our error for a failure a person can fix, or None to let it propagate as a bug."""
    if any(DISK_FULL in message for message in failure.messages):
        return _disk_full(stage, writing)
    condition = failure.condition or ""
    parameters = failure.parameters
    if condition == "FAILED_READ_FILE.PARQUET_COLUMN_DATA_TYPE_MISMATCH":
        return SparkInputError(
            f"{_local(parameters['path'])}: column {parameters['column'].strip('[]')} is stored "
            f"as {parameters['actualType']}, the contract says {parameters['expectedType']}: "
            "fix the file's producer and publish its partition again"
        )
    if condition.startswith("FAILED_READ_FILE"):
        path = parameters.get("path", "a file")
        return SparkInputError(
            f"{_local(path)}: Spark cannot read it ({failure.summary}): "
            "publish the partition again from its source"
        )
    if condition.startswith(("PATH_NOT_FOUND", "UNABLE_TO_INFER_SCHEMA")):
        return SparkInputError(f"{stage}: {failure.summary}: publish the input again")
    if _is_analysis_error(condition):
        return SparkInputError(f"{stage}: Spark cannot plan the job: {failure.summary}")
    return None


def _is_analysis_error(condition: str) -> bool:
    """Conditions of Spark's analyzer: a column, table or type the query cannot resolve."""
    return condition.startswith(
        ("UNRESOLVED_", "DATATYPE_MISMATCH", "CAST_INVALID_INPUT", "INCOMPATIBLE_", "MISSING_")
    )


def _disk_full(stage: str, writing: list[str]) -> DiskFull:
    """ENOSPC naming the fullest device among the folders the job writes to."""
    devices = sorted((_free_bytes(folder), _mount_point(folder)) for folder in set(writing))
    if not devices:
        return DiskFull(errno.ENOSPC, f"{stage}: {DISK_FULL}: free space and run it again")
    free, mount = devices[0]
    return DiskFull(
        errno.ENOSPC,
        f"{stage}: {DISK_FULL}: {mount} has {free:,} bytes free; "
        "free space there (or move spark.local.dir or storage.root to a larger device) "
        "and run it again: nothing was published",
    )


def _free_bytes(folder: str) -> int:
    return shutil.disk_usage(_existing(Path(folder))).free


def _mount_point(folder: str) -> str:
    path = _existing(Path(folder)).resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _local(uri: str) -> str:
    return uri.removeprefix("file://")
