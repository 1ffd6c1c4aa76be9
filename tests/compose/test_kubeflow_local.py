"""The daily run as a Kubeflow pipeline on the local Docker engine (`adagrpo kfp run`: kfp.local's
DockerRunner, each task in its offline-built image): the tiny shop's day end to end, its
evaluations' metrics and reports as KFP artifacts, and every output byte for byte the Airflow
run's of the same day."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from components.core.storage import LocalStorage
from tests.dag_runs import DS, LOOKBACK_DAYS, REPO, TINY_DAY
from tests.snapshots import published_files, without_speeds

pytestmark = [pytest.mark.compose, pytest.mark.airflow, pytest.mark.spark]

KFP = REPO / ".venv-kfp" / "bin" / "adagrpo"
# A bound on a hung run, not a speed target: the tiny day takes minutes on two cores.
RUN_TIMEOUT_S = 1800
# What only the Airflow run wrote: the registration (the local pipeline run leaves the registry
# alone: backfill_registry skip) and the analysis test_dag_run adds to the day.
AIRFLOW_ONLY = ("promotion/registration/", "analysis/")


def test_the_pipeline_run_publishes_what_the_airflow_run_does(
    offline_images: None, tiny_dag_day: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    settings = {**TINY_DAY, "spark.master": "local[2]", "registry.root": str(lake / "registry")}
    flags = [word for name, value in settings.items() for word in ("--set", f"{name}={value}")]
    done = subprocess.run(
        [str(KFP), "kfp", "run", "--ds", DS.isoformat(), "--root", str(lake),
         "--lookback-days", str(LOOKBACK_DAYS), "--scale", "tiny", *flags],
        cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    airflow = published_files(LocalStorage(tiny_dag_day / "root"), "")
    kubeflow = published_files(LocalStorage(lake), "")
    expected = {key: data for key, data in airflow.items() if not key.startswith(AIRFLOW_ONLY)}
    assert sorted(kubeflow) == sorted(expected)
    differing = [key for key in expected if kubeflow[key] != expected[key]]
    # Both trained their policies, and measured different speeds: the rest is the same.
    assert all(key.startswith("models/policy/") for key in differing)
    assert [
        key for key in differing
        if without_speeds(key, kubeflow[key]) != without_speeds(key, expected[key])
    ] == []  # fmt: skip

    # Each evaluation's best checkpoint as KFP Metrics, its report as an HTML artifact.
    for task in ("evaluate-sft", "evaluate-adagrpo"):
        [output] = (lake / "_kfp").glob(f"*/{task}/executor_output.json")
        artifacts = json.loads(output.read_text())["artifacts"]
        metrics = artifacts["metrics"]["artifacts"][0]["metadata"]
        assert 0 <= metrics["test/constrained/ndcg@10"] <= metrics["test/constrained/hr@10"] <= 1
        report = Path(artifacts["report"]["artifacts"][0]["uri"])
        assert b"<html" in report.read_bytes()[:200].lower()
