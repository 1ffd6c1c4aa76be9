"""`adagrpo kfp outputs`, the step a Kubeflow task's container runs after its stage: the task's
artifacts written where its executor input says, and an ExecutorOutput whose metadata KFP's UI
shows (an evaluation's best metrics, its report)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from components.cli import main
from components.core import partitions
from components.core.layout import SFT_KEY
from components.core.storage import LocalStorage
from components.orchestration.kfp_outputs import local_path
from components.trainer.checkpoints import PolicyRun

DS = "2026-11-03"
BEST = {
    "step": 24,
    "epoch": 2.0,
    "model_sha256": "ab" * 32,
    "valid": {"constrained": {"hr@10": 0.25, "ndcg@10": 0.125}, "unconstrained": {"hr@10": 0.5}},
    "test": {"constrained": {"hr@10": 0.375, "hallucination_rate": 0.0}},
}


def executor_input(folder: Path, *outputs: tuple[str, str]) -> dict[str, Any]:
    """An executor input as KFP hands it to a container: parameters, output artifacts, and the
    file for the ExecutorOutput."""
    return {
        "inputs": {"parameterValues": {"ds": DS, "lookback_days": 2, "settings": "abc"}},
        "outputs": {
            "artifacts": {
                name: {
                    "artifacts": [
                        {"name": name, "type": {"schemaTitle": kind}, "uri": str(folder / name)}
                    ]
                }
                for name, kind in outputs
            },
            "outputFile": str(folder / "executor_output.json"),
        },
    }


def kfp_outputs(root: Path, task: str, document: dict[str, Any]) -> int:
    return main(
        ["kfp", "outputs", "--root", str(root), "--task", task,
         "--executor-input", json.dumps(document)]
    )  # fmt: skip


def test_a_task_publishes_the_day_and_what_it_wrote(tmp_path: Path) -> None:
    document = executor_input(tmp_path / "task", ("published", "system.Artifact"))

    assert kfp_outputs(tmp_path / "root", "build_dataset", document) == 0

    published = {"ds": DS, "published": [f"{tmp_path / 'root'}/datasets"]}
    assert json.loads((tmp_path / "task" / "published").read_text()) == published
    output = json.loads((tmp_path / "task" / "executor_output.json").read_text())
    [artifact] = output["artifacts"]["published"]["artifacts"]
    assert artifact["uri"] == str(tmp_path / "task" / "published")
    assert artifact["metadata"] == published


def test_an_evaluation_outputs_its_best_metrics_and_its_report(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    run = PolicyRun(storage, date.fromisoformat(DS), SFT_KEY)
    files = {
        "summary.json": {"best": BEST, "checkpoints": []},
        "report.html": b"<html>report</html>",
    }
    partitions.publish_files(storage, run.evaluation, files, {"best_step": 24})
    document = executor_input(
        tmp_path / "task",
        ("published", "system.Artifact"), ("metrics", "system.Metrics"), ("report", "system.HTML"),
    )  # fmt: skip

    assert kfp_outputs(tmp_path / "root", "evaluate_sft", document) == 0

    output = json.loads((tmp_path / "task" / "executor_output.json").read_text())
    metrics = output["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    assert metrics == {
        "best_step": 24.0,
        "valid/constrained/hr@10": 0.25,
        "valid/constrained/ndcg@10": 0.125,
        "valid/unconstrained/hr@10": 0.5,
        "test/constrained/hr@10": 0.375,
        "test/constrained/hallucination_rate": 0.0,
    }
    assert json.loads((tmp_path / "task" / "metrics").read_text()) == metrics
    assert (tmp_path / "task" / "report").read_bytes() == b"<html>report</html>"
    assert output["artifacts"]["report"]["artifacts"][0]["metadata"] == {"run": SFT_KEY}


def test_an_evaluation_without_its_summary_is_a_missing_input(tmp_path: Path) -> None:
    document = executor_input(
        tmp_path / "task",
        ("published", "system.Artifact"), ("metrics", "system.Metrics"), ("report", "system.HTML"),
    )  # fmt: skip

    assert kfp_outputs(tmp_path / "root", "evaluate_sft", document) == 2
    assert not (tmp_path / "task" / "executor_output.json").exists()


def test_executor_input_that_is_not_json_is_bad_input(tmp_path: Path) -> None:
    assert main(["kfp", "outputs", "--task", "extract_exposures", "--executor-input", "{"]) == 2


def test_artifacts_on_object_stores_are_where_kfp_mounts_them() -> None:
    assert local_path("s3://lake/_kfp/run/task/metrics") == Path("/s3/lake/_kfp/run/task/metrics")
    assert local_path("gs://lake/x") == Path("/gcs/lake/x")
    assert local_path("/data/_kfp/x") == Path("/data/_kfp/x")
