"""Shared fixtures: a temporary pipeline root, one local SparkSession per test session, a
tiny simulated shop with its training set built, and one day of it run by Airflow."""

from __future__ import annotations

import logging
import shutil
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from components.core.config import PipelineConfig, load_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# Seconds of setup, call and teardown of every test, by the markers it carries.
_SECONDS_BY_KEYWORDS: dict[frozenset[str], float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _SECONDS_BY_KEYWORDS[frozenset(report.keywords)] += report.duration


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Where the suite's time goes: seconds per marker (a test counts for each of its markers;
    a session fixture's work, an image build, counts for the first test that asked for it)."""
    project = tomllib.loads((config.rootpath / "pyproject.toml").read_text())
    declared = project["tool"]["pytest"]["ini_options"]["markers"]  # not pytest's or plugins'
    markers = [line.split(":", 1)[0].strip() for line in declared]
    seconds = dict.fromkeys([*markers, "unmarked"], 0.0)
    for keywords, duration in _SECONDS_BY_KEYWORDS.items():
        carried = [marker for marker in markers if marker in keywords] or ["unmarked"]
        for marker in carried:
            seconds[marker] += duration
    terminalreporter.section("seconds per marker")
    for marker, total in seconds.items():
        terminalreporter.write_line(f"{marker:>10}: {total:8.1f} s")
    terminalreporter.write_line(f"{'all':>10}: {sum(_SECONDS_BY_KEYWORDS.values()):8.1f} s")


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    return load_config(
        overrides=[f"storage.root={tmp_path / 'root'}", "spark.master=local[2]"], environ={}
    )


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """Started once: the stages' own ``getOrCreate`` calls then reuse it."""
    from components.core.spark import spark_session

    base = load_config(
        overrides=["spark.master=local[2]", "spark.shuffle_partitions=2"], environ={}
    )
    session = spark_session(base.spark, base.storage, app_name="adagrpo-tests")
    # py4j logs from __del__ at interpreter exit, after pytest closed the log streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def tiny_dag_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny shop's day run once by `airflow dags test` (tests/dag_runs.py), registering in
    ``registry/`` beside its data root ``root/``; the folder holding both."""
    from tests.dag_runs import TINY_DAY, run_dag

    folder = tmp_path_factory.mktemp("dag-day")
    completed = run_dag(folder, **TINY_DAY, **{"registry.root": str(folder / "registry")})
    if completed.returncode != 0:
        pytest.fail(f"the DAG run failed:\n{completed.stdout[-4000:]}{completed.stderr[-4000:]}")
    return folder


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throwaway AIRFLOW_HOME so tests never touch a user's Airflow set-up."""
    home = tmp_path_factory.mktemp("airflow")
    patcher = pytest.MonkeyPatch()
    patcher.setenv("AIRFLOW_HOME", str(home))
    patcher.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    yield home
    patcher.undo()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-protocol HTTP endpoint (moto server) on loopback."""
    from moto.server import ThreadedMotoServer

    patcher = pytest.MonkeyPatch()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        patcher.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    patcher.undo()


@pytest.fixture
def s3_registry(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the S3 endpoint, made the registry root of the environment (what
    ``load_config`` and the CLI read)."""
    import uuid

    import boto3

    bucket = f"registry-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    monkeypatch.setenv("ADAGRPO__REGISTRY__S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("ADAGRPO__REGISTRY__ROOT", f"s3://{bucket}/registry")
    return f"s3://{bucket}/registry"


@pytest.fixture(scope="session")
def tiny_shop(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> PipelineConfig:
    """Three simulated days (2026-11-01..03) taken through extract, validate and semantic IDs.

    Session-scoped and shared: tests must not change what it published.
    """
    from components.cli import main

    root = tmp_path_factory.mktemp("tiny-shop")
    common = ["--root", str(root), "--set", "spark.master=local[2]"]
    window = ["--ds", "2026-11-03", "--lookback-days", "3"]
    for stage in (
        ["simulate", "--scale", "tiny"],
        ["extract", *window],
        ["validate", *window],
        ["semantic-ids", "--ds", "2026-11-03"],
    ):
        assert main([*stage, *common]) == 0, f"stage {stage[0]} failed"
    return load_config(overrides=[f"storage.root={root}", "spark.master=local[2]"], environ={})


@pytest.fixture(scope="session")
def tiny_dataset(tiny_shop: PipelineConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root folder of a copy of the tiny shop with the training set of 2026-11-03 built.

    Session-scoped and shared: copy the folder before writing to it (training, evaluation).
    """
    from components.cli import main

    root = tmp_path_factory.mktemp("tiny-dataset") / "root"
    shutil.copytree(tiny_shop.storage.root, root, ignore=shutil.ignore_patterns("_staging"))
    common = ["--root", str(root), "--set", "spark.master=local[2]"]
    assert main(["build-dataset", "--ds", "2026-11-03", *common]) == 0
    return root


@pytest.fixture(scope="session")
def tiny_ranked(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root folder of a copy of ``tiny_dataset`` with the day's features and ranker: what
    the reward and AdaGRPO's gate read.

    Session-scoped and shared: copy the folder before writing to it (training, evaluation).
    """
    from components.cli import main

    root = tmp_path_factory.mktemp("tiny-ranked") / "root"
    shutil.copytree(tiny_dataset, root, ignore=shutil.ignore_patterns("_staging"))
    common = ["--root", str(root), "--set", "spark.master=local[2]"]
    for stage in ("features", "train-ranker"):
        assert main([stage, "--ds", "2026-11-03", *common]) == 0, f"stage {stage} failed"
    return root
