"""``adagrpo extract``: curated exposures for the window ending on a logical date."""

from __future__ import annotations

import argparse

from components.core.cli_args import add_logical_date, window_days
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("extract", parents=[common], help=__doc__)
    add_logical_date(parser)
    parser.add_argument(
        "--lookback-days", type=window_days, help="days re-extracted up to --ds (default: config)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.extract.stage import extract

    extract(config, args.ds, args.lookback_days)
    return 0
