"""What a configuration asks of this installation that it cannot do, found before a run starts.

``adagrpo config --check`` probes the installation once (Java, the jars Spark has, CUDA, AWS
credentials, the Redis client) and checks the effective configuration against it, so that an S3
data root without Spark's s3a connector fails in a second at deploy time rather than an hour
into a backfill. The checks are pure functions of the configuration and the probe.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from components.core.config import PipelineConfig

SPARK_STAGES = ("extract", "features", "build-dataset")  # the stages that start a SparkSession
S3_CONNECTOR = "hadoop-aws"
AWS_SDK_BUNDLE = "bundle"  # software.amazon.awssdk:bundle, which hadoop-aws 3.4+ calls


@dataclass(frozen=True)
class Finding:
    """One thing the configuration asks that this installation cannot do."""

    setting: str
    stages: tuple[str, ...]
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.problem} ({', '.join(self.stages)} cannot run): {self.fix}"


@dataclass(frozen=True)
class Installation:
    """What this machine offers the stages, probed once."""

    java_major: int | None  # the major version of `java` on the PATH, None without one
    spark_jars: tuple[str, ...]  # file names of the jars pyspark puts on Spark's classpath
    hadoop_version: str | None  # the version of those jars' Hadoop client
    cuda_devices: int
    aws_credentials: bool  # boto3's default chain resolves credentials
    redis_client: bool  # the redis package Feast's Redis online store needs

    @classmethod
    def probe(cls) -> Installation:
        jars = _pyspark_jars()
        return cls(
            java_major=_java_major(),
            spark_jars=jars,
            hadoop_version=_jar_version(jars, "hadoop-client-api"),
            cuda_devices=_cuda_devices(),
            aws_credentials=_has_aws_credentials(),
            redis_client=importlib.util.find_spec("redis") is not None,
        )


def check(config: PipelineConfig, installation: Installation) -> list[Finding]:
    """Every finding for ``config`` on ``installation``; none means every stage can run."""
    return [
        *_java(config, installation),
        *_s3a_connector(config, installation),
        *_credentials(config, installation),
        *_redis(config, installation),
        *_cuda(config, installation),
    ]


def _java(config: PipelineConfig, installation: Installation) -> list[Finding]:
    if config.spark.connect_url or (installation.java_major or 0) >= 17:
        return []  # Spark Connect runs the JVM on the server
    have = f"Java {installation.java_major}" if installation.java_major else "no Java"
    return [
        Finding(
            "spark.master",
            SPARK_STAGES,
            f"Spark 4 needs Java 17 or newer on this machine, which has {have}",
            "install a Java 17+ runtime (make setup does), or set spark.connect_url",
        )
    ]


def _s3a_connector(config: PipelineConfig, installation: Installation) -> list[Finding]:
    if not config.storage.root.startswith("s3://") or config.spark.connect_url:
        return []
    extra = [Path(jar).name for jar in config.spark.conf.get("spark.jars", "").split(",") if jar]
    jars = (*installation.spark_jars, *extra)
    connector = _jar_version(jars, S3_CONNECTOR)
    packages = config.spark.conf.get("spark.jars.packages", "")
    fetched = re.search(rf"org\.apache\.hadoop:{S3_CONNECTOR}:([\w.-]+)", packages)
    if connector is None and fetched:
        connector = fetched.group(1)  # resolved from Maven when the session starts
    elif connector is not None and _jar_version(jars, AWS_SDK_BUNDLE) is None:
        return [
            Finding(
                "spark.jars",
                SPARK_STAGES,
                f"{S3_CONNECTOR}-{connector}.jar is there but not the AWS SDK bundle it calls",
                "add the software.amazon.awssdk bundle jar of the version hadoop-aws names "
                "(the pipeline image's S3A_JARS build argument fetches both)",
            )
        ]
    if connector is None:
        return [
            Finding(
                "storage.root",
                SPARK_STAGES,
                f"{config.storage.root} needs Spark's s3a connector ({S3_CONNECTOR}), and "
                "neither pyspark's jars nor spark.jars nor spark.jars.packages have it",
                "build the pipeline image with its s3a jars, list them in spark.jars, or keep "
                "the data lake on a shared folder (the registry can stay on S3)",
            )
        ]
    if installation.hadoop_version and connector != installation.hadoop_version:
        return [
            Finding(
                "spark.jars",
                SPARK_STAGES,
                f"{S3_CONNECTOR} {connector} does not match pyspark's Hadoop "
                f"{installation.hadoop_version}",
                f"use org.apache.hadoop:{S3_CONNECTOR}:{installation.hadoop_version}",
            )
        ]
    return []


def _credentials(config: PipelineConfig, installation: Installation) -> list[Finding]:
    roots = {"storage.root": config.storage.root, "registry.root": config.registry.root}
    on_s3 = [setting for setting, root in roots.items() if root.startswith("s3://")]
    if not on_s3 or installation.aws_credentials:
        return []
    return [
        Finding(
            " and ".join(on_s3),
            ("every stage that reads or writes there",),
            "no AWS credentials: boto3's default chain found none",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an "
            "instance or pod role",
        )
    ]


def _redis(config: PipelineConfig, installation: Installation) -> list[Finding]:
    if config.features.online_store != "redis" or installation.redis_client:
        return []
    return [
        Finding(
            "features.online_store",
            ("features",),
            "the Redis online store needs the redis package, which is not installed",
            "pip install 'feast[redis]', or set features.online_store=sqlite",
        )
    ]


def _cuda(config: PipelineConfig, installation: Installation) -> list[Finding]:
    devices = {"train.device": config.train.device, "ranker.device": config.ranker.device}
    asked = [setting for setting, device in devices.items() if device.startswith("cuda")]
    if not asked or installation.cuda_devices:
        return []
    return [
        Finding(
            " and ".join(asked),
            tuple("train" if s.startswith("train") else "train-ranker" for s in asked),
            "CUDA is asked for, and torch sees no GPU here",
            "run on a GPU node (the trainer image), or set the device to auto or cpu",
        )
    ]


def _java_major() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    banner = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def _pyspark_jars() -> tuple[str, ...]:
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        return ()
    return tuple(sorted(jar.name for jar in (Path(spec.origin).parent / "jars").glob("*.jar")))


def _jar_version(jars: tuple[str, ...] | list[str], artifact: str) -> str | None:
    """The version of ``artifact`` among jar file names (``hadoop-aws-3.5.0.jar``), or None."""
    for jar in jars:
        found = re.fullmatch(rf"{re.escape(artifact)}-(\d[\w.-]*)\.jar", jar)
        if found:
            return found.group(1)
    return None


def _cuda_devices() -> int:
    import torch  # only here: the other probes are instant

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _has_aws_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None
