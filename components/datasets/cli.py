"""``adagrpo build-dataset``: semantic-ID training sets for a logical date."""

from __future__ import annotations

import argparse

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("build-dataset", parents=[common], help=__doc__)
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.datasets.stage import build_dataset

    build_dataset(config, args.ds)
    return 0
