"""``adagrpo experiment``: every method from one SFT run, over seeds, trained and compared."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import add_logical_date, positive_int
from components.core.config import PipelineConfig
from components.core.methods import METHODS

DEFAULT_METHODS = (
    "nll,mix:0.1,mix:0.5,mix:1.0,grpo,adagrpo,adagrpo-difficulty,adagrpo-discriminability"
)


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "experiment",
        parents=[common],
        help=__doc__,
        description="Train every method of --methods from the best checkpoint of the day's "
        "evaluated SFT run with the same budget (rl.steps; nll continues SFT for as many "
        "steps), once per seed, evaluate every checkpoint, and write one comparison: test "
        "HR@10, NDCG@10 and hallucination (unconstrained) at the best-on-validation and the "
        "final checkpoint, mean and spread over seeds, the retrieval-validity frontier and, on "
        "a simulated shop, each method's distance to the truth-optimal policy: "
        "comparison/dt=DS/{comparison.json,report.html}.",
    )
    add_logical_date(parser)
    parser.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        type=parse_methods,
        help="comma-separated methods, mix (and any weighted method) with :lambda "
        f"(default: {DEFAULT_METHODS})",
    )
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds per method")
    parser.set_defaults(handler=run)


def parse_methods(value: str) -> list[tuple[str, float | None]]:
    """``mix:0.5,adagrpo`` -> [("mix", 0.5), ("adagrpo", None)]."""
    methods: list[tuple[str, float | None]] = []
    for item in value.split(","):
        name, _, weight = item.strip().partition(":")
        if name not in METHODS:
            known = ", ".join(METHODS)
            raise argparse.ArgumentTypeError(f"unknown method {name!r}; known: {known}")
        try:
            methods.append((name, float(weight) if weight else None))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: lambda must be a number") from None
    return methods


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.experiment.stage import run_experiment  # torch: keep --help fast

    comparison = run_experiment(config, args.ds, args.methods, args.seeds)
    print(json.dumps(comparison["answer"], indent=2))
    return 0
