"""``adagrpo kfp compile``: the daily run as a Kubeflow Pipelines v2 pipeline (IR YAML), built
from the stage manifest. kfp's pins conflict with Airflow's: it lives in its own virtual
environment, ``.venv-kfp`` (``make setup`` builds it), whose ``adagrpo`` runs this."""

from __future__ import annotations

import argparse

from components.core.config import PipelineConfig
from components.core.errors import BadInput


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("kfp", help=__doc__.splitlines()[0].strip("`"))
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    compile_ = actions.add_parser(
        "compile", parents=[common], help="write the pipeline for --config as IR YAML"
    )
    compile_.add_argument("--output", required=True, help="the pipeline file to write")
    compile_.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    try:
        import kfp  # noqa: F401
    except ImportError:
        raise BadInput(
            "kfp is not installed in this environment (its pins conflict with Airflow's): run "
            "`.venv-kfp/bin/adagrpo kfp compile ...`, which `make setup` builds"
        ) from None
    from components.orchestration.kubeflow import compile_pipeline

    compile_pipeline(config, args.output)
    print(f"pipeline -> {args.output}")
    return 0
