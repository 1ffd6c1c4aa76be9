"""``adagrpo bless``: the day's candidate against the floors and the registry's champion."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "bless",
        parents=[common],
        help=__doc__,
        description="Score the selected candidate and the registry's champion on the day's "
        "test users with the same decoder; bless the candidate only if it passes the floors "
        "(promotion.min_hr, promotion.max_hallucination) and beats the champion by "
        "promotion.min_delta with a paired bootstrap interval above zero. Writes "
        "promotion/blessing/dt=DS/blessing.json with every reason.",
    )
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.blessing.stage import bless  # torch: keep --help fast

    decision = bless(config, args.ds)
    print(json.dumps({k: decision[k] for k in ("blessed", "reasons")}, indent=2))
    return 0
