"""SparkSession factory: ``local[*]`` by default, a cluster master or Spark Connect by config."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

from components.core.config import SparkConfig, StorageConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Loggers that print a failed task's Java trace; the failure reaches the stage as an exception,
# reported in one line (components/core/spark_errors.py), so they speak only at -v.
TASK_FAILURE_LOGGERS = (
    "org.apache.spark.executor.Executor",
    "org.apache.spark.scheduler.TaskSetManager",
    "org.apache.spark.sql.execution.datasources.FileFormatWriter",
    "org.apache.spark.util.Utils",
)


def spark_session(config: SparkConfig, storage: StorageConfig, app_name: str) -> SparkSession:
    from pyspark.sql import SparkSession  # heavy import, kept out of module import time

    builder = SparkSession.builder.appName(app_name)
    builder = (
        builder.remote(config.connect_url) if config.connect_url else builder.master(config.master)
    )
    settings = {
        "spark.driver.memory": config.driver_memory,
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",  # progress bars would flood task logs
        "spark.sql.parquet.compression.codec": "zstd",
        # Our own manifest marks a committed partition; Spark's empty _SUCCESS would be noise.
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        # Timezone-aware microseconds, the type pyarrow and pandas read back as UTC.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    if config.master.startswith("local"):
        # Python UDFs (validation's id-set check) run in this interpreter's environment, not in
        # whatever python3 is first on the PATH; a cluster's executors bring their own. PySpark
        # reads only the variable, when the context starts.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if storage.s3_endpoint_url:
        settings["spark.hadoop.fs.s3a.endpoint"] = storage.s3_endpoint_url
        settings["spark.hadoop.fs.s3a.path.style.access"] = "true"
    settings.update(config.conf)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    log.info("%s: Spark %s on %s", app_name, session.version, config.connect_url or config.master)
    if not config.connect_url:
        session.sparkContext.setLogLevel("WARN")
        _quiet_task_failures(session)
    return session


def _quiet_task_failures(session: SparkSession) -> None:
    """Silence the JVM's task-failure traces unless our own log is at debug (``-v``)."""
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    jvm = session.sparkContext._jvm
    assert jvm is not None  # a classic (not Connect) session runs its own JVM
    level = jvm.org.apache.logging.log4j.Level.getLevel("WARN" if verbose else "OFF")
    for name in TASK_FAILURE_LOGGERS:
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)
