"""The Kubeflow pipeline compiled from the stage manifest, checked through kfp's own loader and
read back: the DAG's tasks and edges, its Params, each stage in its image with the settings it
was compiled with, GPUs and tolerations for training, a cache keyed by the settings, and the
registry written only when the Param says so. kfp lives in its own environment (.venv-kfp)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.config import load_config
from components.orchestration.kubeflow import settings_digest
from components.stages import TASKS, dag_edges

REPO = Path(__file__).resolve().parents[2]
KFP = REPO / ".venv-kfp" / "bin"
SETTINGS = [
    "runner.kubernetes.gpu_node_selector={pool: gpu}",
    "runner.images={train: registry/trainer:7}",
]


def kfp_python(*args: str) -> str:
    if not (KFP / "adagrpo").exists():
        pytest.fail(".venv-kfp is missing: `make setup` builds it")
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    output = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    flags = [word for setting in SETTINGS for word in ("--set", setting)]
    kfp_python(str(KFP / "adagrpo"), "kfp", "compile", *flags, "--output", str(output))
    loaded = kfp_python(
        str(KFP / "python"), "-c",
        "import sys; from kfp.components import load_component_from_file as load; "
        "print(load(sys.argv[1]).name)", str(output),
    )  # fmt: skip
    assert loaded.strip() == "adagrpo-retrain"
    pipeline, platform = yaml.safe_load_all(output.read_text())
    return pipeline, platform


def executors(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name.removeprefix("exec-"): spec["container"]
        for name, spec in pipeline["deploymentSpec"]["executors"].items()
    }


def dag_tasks(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tasks = dict(pipeline["root"]["dag"]["tasks"])
    for name, task in list(tasks.items()):
        if name.startswith("condition-"):  # register, under its Param
            tasks.pop(name)
            tasks.update(pipeline["components"][task["componentRef"]["name"]]["dag"]["tasks"])
    return tasks


def test_the_tasks_and_edges_are_the_dags_but_the_sensor(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, _ = compiled
    stages = tuple(spec for spec in TASKS if spec.stage is not None)
    tasks = dag_tasks(pipeline)

    assert set(tasks) == {spec.task_id.replace("_", "-") for spec in stages}
    edges = {
        (upstream, name)
        for name, task in tasks.items()
        for upstream in task.get("dependentTasks", [])
    }
    expected = {(a.replace("_", "-"), b.replace("_", "-")) for a, b in dag_edges(stages)}
    assert edges - {("bless-candidate", "condition-1")} == expected - {
        ("bless-candidate", "register-model")
    }


def test_the_parameters_are_the_dags_params(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, _ = compiled
    parameters = pipeline["root"]["inputDefinitions"]["parameters"]

    assert {name: spec.get("defaultValue") for name, spec in parameters.items()} == {
        "ds": None, "lookback_days": 2.0, "scale": "tiny", "codebook": "keep",
        "backfill_registry": "skip",
    }  # fmt: skip


def test_each_stage_runs_in_its_image_with_the_compiled_settings(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, _ = compiled
    config = load_config(None, SETTINGS, environ={})
    containers = executors(pipeline)

    assert containers["train-sft"]["image"] == "registry/trainer:7"
    assert containers["evaluate-sft"]["image"] == "adagrpo/trainer:local"
    assert containers["extract-exposures"]["image"] == "adagrpo/pipeline:local"
    environment = {item["name"]: item["value"] for item in containers["extract-exposures"]["env"]}
    assert json.loads(environment["ADAGRPO__RUNNER"])["kubernetes"]["gpu_node_selector"] == {
        "pool": "gpu"
    }
    assert containers["train-adagrpo"]["args"][3:] == [
        "train", "--ds", "{{$.inputs.parameters['ds']}}", "--method", "adagrpo",
    ]  # fmt: skip
    for task in dag_tasks(pipeline).values():
        digest = task["inputs"]["parameters"]["settings"]["runtimeValue"]["constant"]
        assert digest == settings_digest(config)  # the cache key holds every setting
        assert task["cachingOptions"] == {"enableCache": True}


def test_training_asks_for_gpus_on_the_gpu_nodes(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, platform = compiled
    containers = executors(pipeline)
    kubernetes = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]

    for task in ("train-sft", "train-adagrpo"):
        accelerator = containers[task]["resources"]["accelerator"]
        assert (accelerator["resourceType"], accelerator["resourceCount"]) == (
            "nvidia.com/gpu",
            "1",
        )
        assert kubernetes[f"exec-{task}"]["nodeSelector"] == {"labels": {"pool": "gpu"}}
        assert kubernetes[f"exec-{task}"]["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    assert "accelerator" not in containers["extract-exposures"]["resources"]


def test_the_registry_is_written_only_when_the_param_says_so(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, _ = compiled
    [condition] = [
        t for n, t in pipeline["root"]["dag"]["tasks"].items() if n.startswith("condition")
    ]

    assert condition["triggerPolicy"]["condition"] == (
        "inputs.parameter_values['pipelinechannel--backfill_registry'] == 'register'"
    )


def test_compile_in_the_main_environment_names_the_kfp_one(tmp_path: Path) -> None:
    from components.cli import main

    assert main(["kfp", "compile", "--output", str(tmp_path / "p.yaml")]) == 2


def test_evaluation_outputs_its_metrics_and_report_beside_what_it_published(
    compiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    pipeline, _ = compiled
    outputs = {
        name: component["outputDefinitions"]["artifacts"]
        for name, component in pipeline["components"].items()
        if "executorLabel" in component  # a task's, not the condition's
    }

    for task in ("evaluate-sft", "evaluate-adagrpo"):
        assert {
            name: output["artifactType"]["schemaTitle"]
            for name, output in outputs[f"comp-{task}"].items()
        } == {"published": "system.Artifact", "metrics": "system.Metrics", "report": "system.HTML"}
    assert set(outputs["comp-train-sft"]) == {"published"}
    # The container hands its executor input to the step that writes the artifacts.
    assert executors(pipeline)["evaluate-sft"]["args"][1:3] == ["{{$}}", "evaluate_sft"]


def test_a_local_run_needs_a_local_data_root() -> None:
    done = subprocess.run(
        [str(KFP / "adagrpo"), "kfp", "run", "--ds", "2026-11-03", "--root", "s3://lake/adagrpo"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 2
    assert "is not a local folder" in done.stderr
