"""The daily run as a Kubeflow Pipelines v2 pipeline, built from the stage manifest.

Each task of the manifest's DAG is a container component running ``adagrpo <stage>`` in its
stage's image, with the configuration the compile was given as ``ADAGRPO__SECTION`` variables
(as the container runners pass it). The pipeline's parameters are the DAG's Params; each task
also takes a digest of the settings, so that KFP's cache is keyed by the day and the settings.
A stage the manifest marks GPU asks for ``runner.kubernetes.gpus`` accelerators on the nodes
``gpu_node_selector`` and ``gpu_tolerations`` allow. After its stage, each container writes its
output artifacts (``kfp_outputs``): what it published under the data root, and for evaluation
its metrics and report; the pipeline root lies in the data root, so the Kubeflow UI's lineage
leads there. ``run_locally`` runs a day through ``kfp.local`` on the Docker engine.

The sensor has no task: a KFP run is started once the day's raw logs landed (an upstream
trigger, or the recurring run's schedule). A run cannot tell a backfill from a scheduled run:
``backfill_registry`` decides for every run, and the recurring run passes ``register``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.core.config import PipelineConfig
from components.core.errors import BadInput, TransientError
from components.orchestration.runner import config_environment
from components.stages import TASKS, Task, dag_edges

PIPELINE_NAME = "adagrpo-retrain"
RETRIES, BACKOFF_S, MAX_BACKOFF_S = 3, 60, 1800  # as the DAG's default_args
POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
# Runs the stage, then writes the task's output artifacts from its executor input.
SCRIPT = (
    'executor_input="$1"; task="$2"; shift 2; adagrpo "$@" && '
    'adagrpo kfp outputs --task "$task" --executor-input "$executor_input"'
)
# semantic-ids also takes the Param codebook: "refit" becomes the CLI's flag.
REFIT_SCRIPT = (
    'codebook="$1"; shift; if [ "$codebook" = refit ]; then set -- "$@" --refit; fi; ' + SCRIPT
)


def settings_digest(config: PipelineConfig) -> str:
    """A digest of every setting: the part of each task's cache key that is not the day."""
    document = json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(document).hexdigest()[:16]


def build_pipeline(config: PipelineConfig) -> Callable[..., Any]:
    """The ``@dsl.pipeline`` of the daily run under ``config``."""
    from kfp import dsl

    tasks = tuple(
        spec
        for spec in TASKS
        if spec.stage is not None and (spec.stage.name != "simulate" or config.simulate.enabled)
    )
    components = {spec.task_id: _component(spec, config) for spec in tasks}
    edges = sorted(dag_edges(tasks))
    digest = settings_digest(config)

    def retrain(
        ds: str,
        lookback_days: int = 2,
        scale: str = "tiny",
        codebook: str = "keep",
        backfill_registry: str = "skip",
    ) -> None:
        made: dict[str, Any] = {}
        for spec in tasks:
            inputs = {"ds": ds, "lookback_days": lookback_days, "scale": scale}
            inputs.update(codebook=codebook, settings=digest)
            if spec.stage is not None and spec.stage.name == "register":
                with dsl.If(backfill_registry == "register", name="registers"):
                    made[spec.task_id] = _task(components[spec.task_id], inputs, spec, config)
            else:
                made[spec.task_id] = _task(components[spec.task_id], inputs, spec, config)
        for upstream, downstream in edges:
            made[downstream].after(made[upstream])

    # kfp reads the signature's types; this module's annotations are strings (PEP 563).
    retrain.__annotations__ = {
        "ds": str, "lookback_days": int, "scale": str, "codebook": str,
        "backfill_registry": str, "return": None,
    }  # fmt: skip
    return dsl.pipeline(
        retrain,
        name=PIPELINE_NAME,
        description="AdaGRPO daily retraining: raw logs to a registered model, one day a run",
        pipeline_root=f"{config.storage.root.rstrip('/')}/_kfp",
    )


def _component(spec: Task, config: PipelineConfig) -> Any:
    """A container component running the task's stage in its image; an evaluate task also
    outputs its best checkpoint's metrics and its report."""
    from kfp import dsl

    stage = spec.stage
    assert stage is not None
    image = config.runner.image_for(stage.name)
    refits = stage.name == "semantic-ids"

    def command(
        ds: str, lookback_days: int, scale: str, codebook: str, *unused: Any
    ) -> dsl.ContainerSpec:
        args: list[Any] = ["sh", *([codebook] if refits else [])]
        args += [dsl.PIPELINE_TASK_EXECUTOR_INPUT_PLACEHOLDER, spec.task_id]
        args += [stage.name, "--ds", ds]
        if spec.method is not None:
            args += ["--method", spec.method]
        if stage.windowed:
            args += ["--lookback-days", lookback_days]
        if stage.name == "simulate":
            args += ["--scale", scale]
        script = REFIT_SCRIPT if refits else SCRIPT
        return dsl.ContainerSpec(image=image, command=["sh", "-c", script], args=args)

    # kfp reads the component's inputs and outputs from its signature: the settings digest (the
    # cache key) is an input the command does not use, the artifacts are written after it.
    parameters: dict[str, Any] = {
        "ds": str, "lookback_days": int, "scale": str, "codebook": str, "settings": str,
        "published": dsl.Output[dsl.Artifact],
    }  # fmt: skip
    if stage.name == "evaluate":
        parameters.update(metrics=dsl.Output[dsl.Metrics], report=dsl.Output[dsl.HTML])
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, POSITIONAL, annotation=kind) for name, kind in parameters.items()],
        return_annotation=dsl.ContainerSpec,
    )
    command.__name__ = spec.task_id.replace("_", "-")
    return dsl.container_component(command)


def _task(component: Any, inputs: dict[str, Any], spec: Task, config: PipelineConfig) -> Any:
    """The component's task with its configuration, credentials, volume, retries, GPUs and
    cache."""
    from kfp import kubernetes

    task = component(**inputs)
    stage = spec.stage
    assert stage is not None
    settings = config.runner.kubernetes
    for name, value in config_environment(config).items():
        task.set_env_variable(name, value)
    task.set_display_name(spec.task_id)
    task.set_caching_options(True)
    if stage.retried:
        task.set_retry(
            num_retries=RETRIES,
            backoff_duration=f"{BACKOFF_S}s",
            backoff_factor=2,
            backoff_max_duration=f"{MAX_BACKOFF_S}s",
        )
    if settings.environment_secret is not None:
        variables = config.runner.docker.environment
        kubernetes.use_secret_as_env(
            task, settings.environment_secret, {name: name for name in variables}
        )
    if settings.volume_claim is not None:
        kubernetes.mount_pvc(task, settings.volume_claim, settings.mount_path)
    gpus = settings.gpus.get(stage.name)
    if gpus:
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(gpus)
        for label, value in settings.gpu_node_selector.items():
            kubernetes.add_node_selector(task, label, value)
        for toleration in settings.gpu_tolerations:
            kubernetes.add_toleration(task, **toleration)
    task.set_cpu_request(settings.requests["cpu"]).set_memory_request(settings.requests["memory"])
    return task


def compile_pipeline(config: PipelineConfig, output: str) -> None:
    """Write the pipeline's IR YAML to ``output``."""
    from kfp import compiler

    compiler.Compiler().compile(build_pipeline(config), package_path=output)


def run_locally(config: PipelineConfig, arguments: dict[str, Any]) -> Path:
    """Run the pipeline once with ``arguments`` through ``kfp.local`` on the Docker engine:
    each task in its stage's image as the caller's user, the data root bind-mounted at its own
    path, the pipeline root (where the artifacts go) inside it. The pipeline root."""
    import docker
    from docker.types import Mount
    from kfp import local

    root = Path(config.storage.root)
    if "://" in config.storage.root or not root.is_dir():
        raise BadInput(
            f"storage.root {config.storage.root!r} is not a local folder: `kfp run` mounts the "
            "data root into each task's container; run the simulator there first, or compile "
            "the pipeline for a cluster (`kfp compile`)"
        )
    root = root.resolve()
    config = config.model_copy(
        update={"storage": config.storage.model_copy(update={"root": str(root)})}
    )
    try:
        docker.from_env().ping()
    except docker.errors.DockerException as exc:
        raise TransientError(f"no Docker engine answers ({exc}): start it and run again") from exc
    settings = config.runner.docker
    run_args: dict[str, Any] = {
        "mounts": [Mount(target=str(root), source=str(root), type="bind")],
        "user": f"{os.getuid()}:{os.getgid()}",  # the data root's files stay the caller's
        # A task's command replaces the image's entrypoint, as on Kubernetes ([""]: none).
        "entrypoint": [""],
        "environment": {
            name: os.environ[name] for name in settings.environment if name in os.environ
        },
    }
    if settings.network is not None:
        run_args["network"] = settings.network
    pipeline_root = root / "_kfp"
    local.init(runner=local.DockerRunner(**run_args), pipeline_root=str(pipeline_root))
    build_pipeline(config)(**arguments)
    return pipeline_root
