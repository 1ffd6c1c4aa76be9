"""``adagrpo train-ranker``: the click model that AdaGRPO uses as its reward."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "train-ranker",
        parents=[common],
        help=__doc__,
        description="Train the ranker on features/ranker_rows/dt=DS/ (every exposure day but "
        "the last), evaluate it on the last day and publish it under models/ranker/dt=DS/. "
        "Its settings are the config's `ranker` section (e.g. --set ranker.epochs=2).",
    )
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.ranker.stage import train_ranker  # torch: keep --help fast

    metrics = train_ranker(config, args.ds)
    print(json.dumps(metrics["evaluation"], indent=2))
    return 0
