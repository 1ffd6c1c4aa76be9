"""``adagrpo evaluate``: every checkpoint of a training run, with and without the trie."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date, add_run_options, chosen_run
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        parents=[common],
        help=__doc__,
        description="Score every checkpoint of models/policy/dt=DS/RUN/ on the "
        "validation split: HR@K, NDCG@K and hallucination rate with beam search, "
        "unconstrained and constrained to catalog SIDs; choose one on validation as the select "
        "stage does and score it on the test split (every checkpoint with "
        "evaluate.test_checkpoints=all).",
    )
    add_logical_date(parser)
    add_run_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.evaluate.stage import evaluate  # torch: keep --help fast

    summary = evaluate(config, args.ds, chosen_run(args, config))
    print(json.dumps(summary["best"], indent=2))
    return 0
