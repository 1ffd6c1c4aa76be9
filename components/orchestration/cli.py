"""``adagrpo kfp``: the daily run as a Kubeflow Pipelines v2 pipeline, built from the stage
manifest: ``compile`` writes its IR YAML, ``run`` runs one day of it on the local Docker engine
(``kfp.local``). kfp's pins conflict with Airflow's: it lives in its own virtual environment,
``.venv-kfp`` (``make setup`` builds it), whose ``adagrpo`` runs these. ``outputs`` runs inside
each task's container and needs no kfp."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date, positive_int
from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.stages import TASKS


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("kfp", help=__doc__.splitlines()[0].strip("`"))
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    compile_ = actions.add_parser(
        "compile", parents=[common], help="write the pipeline for --config as IR YAML"
    )
    compile_.add_argument("--output", required=True, help="the pipeline file to write")
    compile_.set_defaults(handler=compile_pipeline)

    run = actions.add_parser(
        "run",
        parents=[common],
        help="run one day of the pipeline through kfp.local on the Docker engine, each task in "
        "its stage's image, the data root (a local folder) mounted where it is",
    )
    add_logical_date(run)
    run.add_argument(
        "--lookback-days", type=positive_int, default=2, help="the Param lookback_days"
    )
    run.add_argument("--scale", default="tiny", help="the Param scale (simulated runs)")
    run.add_argument("--codebook", choices=("keep", "refit"), default="keep")
    run.add_argument("--backfill-registry", choices=("skip", "register"), default="skip")
    run.set_defaults(handler=run_locally)

    outputs = actions.add_parser(
        "outputs", parents=[common], help="in a task's container: write its output artifacts"
    )
    tasks = sorted(task.task_id for task in TASKS if task.stage is not None)
    outputs.add_argument("--task", required=True, choices=tasks)
    outputs.add_argument("--executor-input", required=True, help="KFP's executor input (JSON)")
    outputs.set_defaults(handler=write_outputs)


def _require_kfp(command: str) -> None:
    try:
        import kfp  # noqa: F401
    except ImportError:
        raise BadInput(
            "kfp is not installed in this environment (its pins conflict with Airflow's): run "
            f"`.venv-kfp/bin/adagrpo kfp {command} ...`, which `make setup` builds"
        ) from None


def compile_pipeline(args: argparse.Namespace, config: PipelineConfig) -> int:
    _require_kfp("compile")
    from components.orchestration.kubeflow import compile_pipeline

    compile_pipeline(config, args.output)
    print(f"pipeline -> {args.output}")
    return 0


def run_locally(args: argparse.Namespace, config: PipelineConfig) -> int:
    _require_kfp("run")
    from components.orchestration.kubeflow import run_locally

    arguments = {
        "ds": args.ds.isoformat(),
        "lookback_days": args.lookback_days,
        "scale": args.scale,
        "codebook": args.codebook,
        "backfill_registry": args.backfill_registry,
    }
    outputs = run_locally(config, arguments)
    print(f"pipeline run of {args.ds} succeeded; its artifacts -> {outputs}")
    return 0


def write_outputs(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.orchestration.kfp_outputs import TASKS_BY_ID, write_outputs

    try:
        executor_input = json.loads(args.executor_input)
    except json.JSONDecodeError as exc:
        raise BadInput(f"--executor-input is not JSON ({exc}): KFP passes it as {{{{$}}}}") from exc
    write_outputs(config, TASKS_BY_ID[args.task], executor_input)
    return 0
