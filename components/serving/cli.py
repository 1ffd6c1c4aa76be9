"""``adagrpo serve``: the registry's champion (and challenger, in an experiment) over HTTP."""

from __future__ import annotations

import argparse

from components.core.cli_args import experiment_id
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=[common],
        help=__doc__,
        description="Serve top-K recommendations from the model registry: the champion, or "
        "with --experiment the champion (control) and the challenger (treatment) of an A/B "
        "experiment, users assigned by a salted hash. POST /recommend takes "
        '{"user_id": 1, "history": [item ids], "k": 10} or {"requests": [...]}; GET /healthz. '
        "Alias moves are picked up without a restart (serving.refresh_s).",
    )
    parser.add_argument("--registry", help="registry root: a folder or s3://bucket/prefix")
    parser.add_argument(
        "--experiment", metavar="ID", type=experiment_id, help="the A/B experiment to serve"
    )
    parser.add_argument("--host", help="listen address (default: serving.host)")
    parser.add_argument("--port", type=int, help="listen port (default: serving.port)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    import uvicorn  # the web stack: keep --help fast

    from components.serving.service import build_app

    registry = config.registry
    if args.registry:
        registry = registry.model_copy(update={"root": args.registry})
    settings = config.serving
    app = build_app(registry, settings, args.experiment)
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port)
    return 0
