"""``adagrpo features``: Feast features of the validated exposures, and the ranker's rows."""

from __future__ import annotations

import argparse
import logging
import warnings

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "features",
        parents=[common],
        help="Feast user and item features, and the ranker's training rows",
        description="Publish the daily user and item snapshots the run for --ds needs "
        "(features/offline/), apply the Feast repo, load the online store with the snapshot of "
        "--ds and publish the ranker's training rows (features/ranker_rows/dt=DS/).",
    )
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    # Feast logs each registry refresh at INFO; dask warns about its own pandas calls.
    logging.getLogger("feast").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning, module="dask")
    from components.features.stage import build_features  # Spark and Feast: keep --help fast

    build_features(config, args.ds)
    return 0
