"""``adagrpo train-ranker``: the click model that AdaGRPO uses as its reward."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date, positive_int
from components.core.config import PipelineConfig
from components.ranker.params import TrainParams


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "train-ranker",
        parents=[common],
        help=__doc__,
        description="Train the ranker on features/ranker_rows/dt=DS/ (every exposure day but "
        "the last), evaluate it on the last day and publish it under models/ranker/dt=DS/.",
    )
    add_logical_date(parser)
    parser.add_argument(
        "--epochs", type=positive_int, default=TrainParams.epochs, help="passes over the rows"
    )
    parser.add_argument("--seed", type=int, default=0, help="initialization and shuffling seed")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.ranker.stage import train_ranker  # torch: keep --help fast

    params = TrainParams(epochs=args.epochs, seed=args.seed, device=args.device)
    metrics = train_ranker(config, args.ds, params)
    print(json.dumps(metrics["evaluation"], indent=2))
    return 0
