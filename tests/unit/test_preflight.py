"""`adagrpo config --check`: what a configuration asks that an installation cannot do."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.core.config import load_config
from components.core.preflight import Installation, check

CAPABLE = Installation(
    java_major=17,
    spark_jars=("hadoop-client-api-3.5.0.jar", "hadoop-client-runtime-3.5.0.jar"),
    hadoop_version="3.5.0",
    cuda_devices=0,
    aws_credentials=True,
    redis_client=True,
)
S3_LAKE = "storage.root=s3://lake/adagrpo"


def findings(*overrides: str, installation: Installation = CAPABLE) -> dict[str, list[str]]:
    """The problems found, by the setting that causes them."""
    found: dict[str, list[str]] = {}
    for finding in check(load_config(overrides=overrides, environ={}), installation):
        found.setdefault(finding.setting, []).append(finding.problem)
    return found


def test_the_embedded_defaults_run_on_a_machine_with_java_17() -> None:
    assert findings() == {}


def test_spark_stages_without_java_17_are_named_unless_spark_connect_runs_the_jvm() -> None:
    old_java = replace(CAPABLE, java_major=11)
    assert findings(installation=old_java) == {
        "spark.master": ["Spark 4 needs Java 17 or newer on this machine, which has Java 11"]
    }
    assert findings("spark.connect_url=sc://spark:15002", installation=old_java) == {}


def test_an_s3_data_lake_without_the_s3a_connector_is_refused_before_a_run() -> None:
    (connector,) = findings(S3_LAKE)["storage.root"]
    assert connector.startswith("s3://lake/adagrpo needs Spark's s3a connector (hadoop-aws)")


def test_the_s3a_connector_from_the_image_or_from_maven_must_match_pyspark_hadoop() -> None:
    baked = replace(
        CAPABLE, spark_jars=(*CAPABLE.spark_jars, "hadoop-aws-3.5.0.jar", "bundle-2.29.52.jar")
    )
    assert findings(S3_LAKE, installation=baked) == {}
    fetched = "spark.conf={'spark.jars.packages': 'org.apache.hadoop:hadoop-aws:3.4.1'}"
    assert findings(S3_LAKE, fetched)["spark.jars"] == [
        "hadoop-aws 3.4.1 does not match pyspark's Hadoop 3.5.0"
    ]


def test_the_connector_without_the_aws_sdk_it_calls_is_named() -> None:
    half = replace(CAPABLE, spark_jars=(*CAPABLE.spark_jars, "hadoop-aws-3.5.0.jar"))
    assert findings(S3_LAKE, installation=half)["spark.jars"] == [
        "hadoop-aws-3.5.0.jar is there but not the AWS SDK bundle it calls"
    ]


def test_s3_roots_without_credentials_name_both_roots() -> None:
    anonymous = replace(CAPABLE, aws_credentials=False)
    problems = findings(S3_LAKE, "registry.root=s3://models/adagrpo", installation=anonymous)
    assert problems["storage.root and registry.root"] == [
        "no AWS credentials: boto3's default chain found none"
    ]


def test_cuda_asked_on_a_machine_without_a_gpu_names_the_stages() -> None:
    config = load_config(overrides=["train.device=cuda", "ranker.device=cuda:1"], environ={})
    (finding,) = check(config, CAPABLE)
    assert finding.setting == "train.device and ranker.device"
    assert finding.stages == ("train", "train-ranker")
    assert check(config, replace(CAPABLE, cuda_devices=1)) == []


def test_the_redis_online_store_needs_its_client() -> None:
    no_client = replace(CAPABLE, redis_client=False)
    assert findings("features.online_store=redis", installation=no_client) == {
        "features.online_store": [
            "the Redis online store needs the redis package, which is not installed"
        ]
    }


def test_config_check_probes_this_installation_through_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from components.cli import main

    probed = Installation.probe()  # the machine the tests run on: make setup installs Java 17
    assert probed.java_major is not None and probed.java_major >= 17
    assert probed.hadoop_version is not None and probed.cuda_devices >= 0

    assert main(["config", "--check"]) == 0
    assert "this installation can run every stage of this config" in capsys.readouterr().out
    # pyspark as make setup installs it has no s3a connector: an S3 data lake cannot be read.
    assert main(["config", "--check", "--root", "s3://lake/adagrpo"]) == 2
    assert "cannot run: storage.root" in capsys.readouterr().out
