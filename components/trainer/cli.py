"""``adagrpo train``: train the SID-token policy on the day's training set: SFT (--method nll),
or from an SFT run with NLL, GRPO and AdaGRPO (the other methods)."""

from __future__ import annotations

import argparse
import json

from components.core.cli_args import (
    add_logical_date,
    add_method_option,
    check_run_key,
)
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "train",
        parents=[common],
        help=__doc__.splitlines()[0],
        description="Train the policy on datasets/dt=DS/train, checkpointing to "
        "models/policy/dt=DS/RUN/ (the run key, e.g. method=adagrpo,lambda=1); a killed run "
        "resumes from its newest checkpoint. Every method but nll starts from the best "
        "checkpoint of an evaluated run (--init) and is rewarded by the day's ranker (rl.*). "
        "Under torchrun every process trains a share of each batch (DDP).",
    )
    add_logical_date(parser)
    add_method_option(parser, help="training method (default: config)")
    parser.add_argument(
        "--init",
        metavar="RUN",
        type=check_run_key,
        help="the run to start from, its best checkpoint on validation (default for every "
        "method but nll: method=nll, the day's SFT run; with nll: continue it with the RL budget)",
    )
    parser.add_argument("--device", help="auto, cpu, cuda, ... (default: config)")
    parser.add_argument("--restart", action="store_true", help="discard checkpoints, start over")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.trainer.stage import train  # torch: keep --help fast

    updates = {"method": args.method, "device": args.device}
    settings = config.train.model_copy(update={k: v for k, v in updates.items() if v})
    manifest = train(
        config.model_copy(update={"train": settings}), args.ds, args.restart, args.init
    )
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=2))
    return 0
