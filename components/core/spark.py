"""SparkSession factory: ``local[*]`` by default, a cluster master or Spark Connect by config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.core.config import SparkConfig, StorageConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
    if storage.s3_endpoint_url:
        settings["spark.hadoop.fs.s3a.endpoint"] = storage.s3_endpoint_url
        settings["spark.hadoop.fs.s3a.path.style.access"] = "true"
    settings.update(config.conf)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not config.connect_url:
        session.sparkContext.setLogLevel("WARN")
    return session
