"""``adagrpo analyze``: HR@10 of every trained method per difficulty x discriminability stratum."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "analyze",
        parents=[common],
        help=__doc__,
        description="Bucket the validation samples of DS by the SFT policy's difficulty and the "
        "ranker's discriminability (the rl.* diagnostics on G rollouts of the best SFT "
        "checkpoint), then report each evaluated run's HR@10 per stratum and, on a simulated "
        "shop, the ranker's accuracy against the hidden truth per stratum: "
        "analysis/dt=DS/{analysis.json,report.html}.",
    )
    add_logical_date(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.analysis.stage import analyze  # torch: keep --help fast

    summary = analyze(config, args.ds)
    print(json.dumps(summary["strata"], indent=2))
    return 0
