"""``adagrpo select``: the day's candidate for the registry, chosen on validation only."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "select",
        parents=[common],
        help=__doc__,
        description="Of every evaluated checkpoint of the day, pick the best on validation "
        "(promotion.metric, constrained decoding) among those whose unconstrained decoding "
        "hallucinates at most promotion.max_hallucination; writes "
        "promotion/selection/dt=DS/selection.json with every candidate and why it lost.",
    )
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.selection.stage import select_candidate  # storage: keep --help fast

    decision = select_candidate(config, args.ds)
    print(json.dumps(decision["selected"], indent=2))
    return 0
