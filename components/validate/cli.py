"""``adagrpo validate``: check the curated partitions of a run's window."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from components.core.cli_args import add_logical_date, window_days
from components.core.config import PipelineConfig
from components.validate.result import report_key


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "validate",
        parents=[common],
        help="check curated exposures with Great Expectations",
        description="Validate each curated partition of the window ending on --ds and write "
        "quality/exposures/dt=.../result.json and report.html. Exit 1 if any fails.",
    )
    add_logical_date(parser)
    parser.add_argument(
        "--lookback-days",
        type=window_days,
        help="days ending on --ds to validate (default: extract.lookback_days, the days "
        "extract rewrites)",
    )
    parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.core.storage import open_storage  # pyarrow: not at `adagrpo --help`

    # GX logs its import and set-up at INFO, hundreds of lines that bury the verdicts, and pins
    # one of its loggers to INFO while importing; its warnings still come through.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from components.validate.stage import validate_window  # loads GX: keep --help fast

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

    storage = open_storage(config.storage)
    lookback_days = args.lookback_days or config.extract.lookback_days
    results = validate_window(config, args.ds, lookback_days)
    failed = [result for result in results if not result.success]
    for result in failed:
        print(result.failure_message(), file=sys.stderr)
        print(f"  report: {storage.uri(report_key(result.dt))}", file=sys.stderr)
    return 1 if failed else 0
