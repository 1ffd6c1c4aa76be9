"""``adagrpo semantic-ids``: the item <-> SID map of a logical date, refitting when due."""

from __future__ import annotations

import argparse

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("semantic-ids", parents=[common], help=__doc__)
    add_logical_date(parser)
    parser.add_argument(
        "--refit",
        action="store_true",
        help="fit a new codebook version even if the refit policy does not ask for one",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.core.storage import open_storage
    from components.semantic_ids.stage import build_semantic_ids

    build_semantic_ids(
        open_storage(config.storage), args.ds, config.semantic_ids, force_refit=args.refit
    )
    return 0
