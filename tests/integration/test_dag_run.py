"""`airflow dags test` of the whole DAG on a tiny simulated shop, SQLite metadata database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from components.core.config import StorageConfig, load_config
from components.core.layout import run_key
from components.core.partitions import read_manifest
from components.core.storage import LocalStorage, open_storage
from components.registry.store import ModelRegistry
from components.validate.gate import PartitionFailedValidation, require_validated
from tests.dag_runs import DS, REPO, run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.spark]

ADAGRPO = run_key("adagrpo", load_config(environ={}).rl, seed=0, from_init=True)  # the default


def test_dag_runs_every_stage(tiny_dag_day: Path) -> None:
    storage = open_storage(StorageConfig(root=str(tiny_dag_day / "root")))
    for day in (date(2026, 11, 2), DS):
        manifest = require_validated(storage, day)
        assert manifest["rows"] > 1000
        assert storage.exists(f"quality/exposures/dt={day}/report.html")
    assert read_manifest(storage, f"features/ranker_rows/dt={DS}")["rows"] > 1000
    assert storage.exists(f"models/ranker/dt={DS}/model.safetensors")
    dataset = read_manifest(storage, f"datasets/dt={DS}")
    assert dataset["sid_version"] == 1
    assert dataset["examples"]["test"] > 0
    policy = f"models/policy/dt={DS}/method=nll"
    assert read_manifest(storage, policy)["final_step"] > 0
    best = read_manifest(storage, f"{policy}/evaluation")["best_step"]
    summary = storage.read_json(f"{policy}/evaluation/summary.json")
    assert summary["best"]["step"] == best
    assert summary["best"]["test"]["constrained"]["hallucination_rate"] == 0.0
    adagrpo = f"models/policy/dt={DS}/{ADAGRPO}"
    spec = storage.read_json(f"{adagrpo}/spec.json")
    assert spec["init"]["run"] == "method=nll" and spec["init"]["step"] == best
    ranker = read_manifest(storage, f"models/ranker/dt={DS}")
    assert spec["ranker"]["weights_sha256"] == ranker["weights_sha256"]
    rl = [json.loads(line) for line in storage.read_bytes(f"{adagrpo}/metrics.jsonl").splitlines()]
    assert rl[-1]["step"] == read_manifest(storage, adagrpo)["final_step"]
    assert {"grpo_grad_norm", "admission", "reward_mean", "zero_variance"} <= rl[-1].keys()
    assert read_manifest(storage, f"{adagrpo}/evaluation")["run"] == ADAGRPO

    # The best checkpoint of either run on validation, blessed and registered as the champion.
    selected = storage.read_json(f"promotion/selection/dt={DS}/selection.json")["selected"]
    assert selected["run"] in {"method=nll", ADAGRPO}
    registration = storage.read_json(f"promotion/registration/dt={DS}/registration.json")
    assert registration["version"] == 1 and registration["alias"]["moves"] == {
        "champion": [None, 1]
    }
    registry = ModelRegistry(LocalStorage(tiny_dag_day / "registry"))
    assert registry.verified(1).manifest["weights_sha256"] == selected["model_sha256"]

    # The stratified analysis of the day's two runs.
    analyzed = subprocess.run(
        [sys.executable, "-m", "components.cli", "analyze", "--root", str(tiny_dag_day / "root"),
         "--ds", DS.isoformat()],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert analyzed.returncode == 0, analyzed.stderr[-3000:]
    analysis = storage.read_json(f"analysis/dt={DS}/analysis.json")
    strata = analysis["strata"]
    assert [(s["difficult"], s["discriminable"]) for s in strata] == [
        (True, True), (True, False), (False, True), (False, False)
    ]  # fmt: skip
    assert sum(s["samples"] for s in strata) == analysis["samples"] == dataset["examples"]["valid"]
    assert set(analysis["runs"]) == {"method=nll", ADAGRPO}
    assert analysis["runs"]["method=nll"]["step"] == best
    assert analysis["truth"] == "simulated shop"
    for stratum in strata:
        if stratum["samples"]:
            assert 0 <= stratum["ranker_truth_accuracy"] <= 1
            assert set(stratum["hr@10"]) == set(analysis["runs"])
            assert all(0 < ratio <= 1 for ratio in stratum["truth_ratio"].values())
    for run in analysis["runs"].values():  # no list is truer than the truth-optimal one
        assert 0 < run["truth_ratio"] <= 1
    assert 0 < analysis["ranker_discriminability"] < 1
    assert 0 < analysis["ranker_truth_accuracy"] < 1
    # Per-stratum hit rates weighted by their shares give the overall one.
    overall = sum(s["share"] * s["hr@10"]["method=nll"] for s in strata if s["samples"])
    assert overall == pytest.approx(analysis["runs"]["method=nll"]["hr@10"])
    assert "Stratified analysis" in storage.read_bytes(f"analysis/dt={DS}/report.html").decode()


def test_bad_data_fails_the_run_and_is_never_blessed(tmp_path: Path) -> None:
    # A CTR bound the simulated shop cannot meet stands in for a bad upstream partition.
    completed = run_dag(tmp_path, **{"validation.ctr_max": "0.01"})

    assert completed.returncode != 0
    log = completed.stdout + completed.stderr
    assert "stage 'validate' exited with 1" in log
    assert "click-through rate" in log
    storage = open_storage(StorageConfig(root=str(tmp_path / "root")))
    with pytest.raises(PartitionFailedValidation, match="failed"):
        require_validated(storage, DS)
    for downstream in ("datasets", "features/ranker_rows", "models"):
        assert not storage.list_keys(downstream), downstream
