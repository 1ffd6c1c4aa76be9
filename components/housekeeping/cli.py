"""``adagrpo gc``: remove what killed runs left under the storage root."""

from __future__ import annotations

import argparse
import json

from components.core.config import PipelineConfig


def _hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if hours < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours >= 0")
    return hours


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "gc",
        parents=[common],
        help=__doc__,
        description="Delete staging areas whose process is gone (this host) or that are older "
        "than --older-than (other hosts), folders that a publish moved aside, and temp files "
        "of interrupted writes. Live work is never touched; prints what was removed.",
    )
    parser.add_argument(
        "--older-than",
        type=_hours,
        default=24.0,
        metavar="HOURS",
        help="age after which another host's staging area counts as abandoned (default 24)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.housekeeping.stage import collect_garbage  # storage: keep --help fast

    print(json.dumps(collect_garbage(config, args.older_than * 3600), indent=2))
    return 0
