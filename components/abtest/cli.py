"""``adagrpo ab-readout``: an A/B experiment's result from the logs of what each arm showed."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date, experiment_id
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "ab-readout",
        parents=[common],
        help=__doc__,
        description="CTR and dwell time per arm with confidence intervals (delta method over "
        "users), the lift and its two-sided z-test, the sample-ratio check and the "
        "hallucination guardrail, from the experiment's curated exposures up to --ds. Writes "
        "abtest/ID/dt=DS/{readout.json,report.html}.",
    )
    parser.add_argument(
        "--experiment", required=True, metavar="ID", type=experiment_id, help="the experiment id"
    )
    add_logical_date(parser, help="last day to read, YYYY-MM-DD")
    parser.add_argument("--registry", help="registry root: a folder or s3://bucket/prefix")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.abtest.stage import ab_readout  # pandas and scipy: keep --help fast

    if args.registry:
        registry = config.registry.model_copy(update={"root": args.registry})
        config = config.model_copy(update={"registry": registry})
    result = ab_readout(config, args.experiment, args.ds)
    print(json.dumps({"verdict": result["verdict"], "ctr": result["ctr"]}, indent=2))
    return 0
