"""The output artifacts of a Kubeflow task, written in its container once its stage succeeded.

KFP hands a container its executor input (``{{$}}``): each output artifact's URI, and the file
where the container may write an ``ExecutorOutput`` whose metadata the UI shows. Every task
publishes ``published``: the day and the datasets it wrote under the data root. An evaluate task
also publishes its best checkpoint's metrics as ``Metrics`` and its report as ``HTML``. Runs in
the stage images, which do not have kfp: the messages are read and written as plain JSON.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from components.core import partitions
from components.core.config import PipelineConfig
from components.core.errors import MissingInput
from components.core.layout import run_key
from components.core.storage import open_storage
from components.stages import TASKS, Task

TASKS_BY_ID = {task.task_id: task for task in TASKS if task.stage is not None}
# Where KFP's launcher mounts each object store in a task's container (kfp.dsl.Artifact.path).
MOUNTED_SCHEMES = {"gs://": "/gcs/", "s3://": "/s3/", "minio://": "/minio/"}
REPORT_FILE = "report.html"  # in a run's evaluation/


def local_path(uri: str) -> Path:
    """Where the artifact at ``uri`` is in the container."""
    for scheme, mount in MOUNTED_SCHEMES.items():
        if uri.startswith(scheme):
            return Path(mount + uri.removeprefix(scheme))
    return Path(uri)


def write_outputs(config: PipelineConfig, task: Task, executor_input: dict[str, Any]) -> None:
    """Write ``task``'s artifacts and its ``ExecutorOutput`` for the executor input of its
    container."""
    ds = str(executor_input["inputs"]["parameterValues"]["ds"])
    outputs = executor_input["outputs"]
    root = config.storage.root.rstrip("/")
    contents: dict[str, tuple[bytes, dict[str, Any]]] = {
        "published": _published(ds, [f"{root}/{name}" for name in task.publishes])
    }
    if task.stage is not None and task.stage.name == "evaluate":
        contents.update(_evaluation(config, task, date.fromisoformat(ds)))
    described = {}
    for name, (data, metadata) in contents.items():
        artifact = outputs["artifacts"][name]["artifacts"][0]
        path = local_path(artifact["uri"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        described[name] = {"artifacts": [{**artifact, "metadata": metadata}]}
    output_file = Path(outputs["outputFile"])
    output_file.parent.mkdir(parents=True, exist_ok=True)
    output_file.write_text(json.dumps({"artifacts": described}, indent=2) + "\n")


def _published(ds: str, published: list[str]) -> tuple[bytes, dict[str, Any]]:
    document = {"ds": ds, "published": published}
    return json.dumps(document).encode() + b"\n", document


def _evaluation(
    config: PipelineConfig, task: Task, ds: date
) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """The evaluated run's best checkpoint: its metrics, flat, and its report."""
    from components.trainer.checkpoints import PolicyRun  # torch

    assert task.method is not None
    storage = open_storage(config.storage)
    run = PolicyRun(storage, ds, run_key(task.method, config.rl, config.train.seed, False))
    if not partitions.is_published(storage, run.evaluation):
        raise MissingInput(
            f"{storage.uri(run.evaluation)} is not published: the task's `adagrpo evaluate` "
            "writes it, and its outputs are written after it succeeds"
        )
    best = storage.read_json(run.evaluation_summary)["best"]
    metrics = {"best_step": best["step"]}
    for split in ("valid", "test"):
        metrics.update(_flat(best[split], split))
    report = storage.read_bytes(f"{run.evaluation}/{REPORT_FILE}")
    return {
        "metrics": (json.dumps(metrics).encode() + b"\n", metrics),
        "report": (report, {"run": run.key}),
    }


def _flat(values: dict[str, Any], prefix: str) -> dict[str, float]:
    """Numeric leaves of nested metrics, e.g. ``test/constrained/ndcg@10``."""
    flat: dict[str, float] = {}
    for name, value in values.items():
        key = f"{prefix}/{name}"
        if isinstance(value, dict):
            flat.update(_flat(value, key))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[key] = float(value)
    return flat
