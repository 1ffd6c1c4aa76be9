"""``adagrpo register``: the day's blessed candidate into the registry; ``adagrpo registry``:
list, show, compare, promote and roll back registered models."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
from typing import Any

from components.core.cli_args import add_logical_date, check_run_key, positive_int
from components.core.config import PipelineConfig


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    stage = subparsers.add_parser(
        "register",
        parents=[common],
        help="register the day's blessed candidate as an immutable registry version",
        description="Write the blessed candidate of the day to the registry (registry.root): "
        "weights, policy shape, SID catalog, metrics, model card and provenance, every file "
        "checksummed; it becomes the champion when there is none, else the challenger. A rerun "
        "registers nothing twice. Writes promotion/registration/dt=DS/registration.json.",
    )
    add_logical_date(stage)
    stage.set_defaults(handler=run_stage)
    parser = subparsers.add_parser(
        "registry",
        parents=[common],
        help="list, show, compare, promote and roll back registered models",
        description="The model registry at registry.root (--registry): immutable versions with "
        "checksummed files, and the champion and challenger aliases with their audit log.",
    )
    parser.add_argument("--registry", help="registry root: a folder or s3://bucket/prefix")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("init", help="create the registry root (an S3 root's bucket) if missing")
    actions.add_parser("list", help="every version with its metrics, and the aliases")
    show = actions.add_parser("show", help="one version, its files verified")
    show.add_argument("version", type=positive_int)
    diff = actions.add_parser("diff", help="what differs between two versions")
    diff.add_argument("first", type=positive_int)
    diff.add_argument("second", type=positive_int)
    for name, text in (
        ("promote", "make the challenger the champion"),
        ("rollback", "make the previous champion the champion again"),
    ):
        move = actions.add_parser(name, help=text)
        move.add_argument("--reason", required=True, help="why, for the audit log")
        move.add_argument("--actor", default=f"{getpass.getuser()}@{socket.gethostname()}")
    actions.add_parser("audit", help="every alias move, oldest first")
    put_up = actions.add_parser(
        "put-up",
        help="register an evaluated run's checkpoint without the blessing, for an experiment",
        description="Register checkpoint --step (default: the best on validation) of the "
        "evaluated run --run of --ds, bypassing the daily blessing (for an online claim that "
        "offline metrics cannot judge): it becomes the champion when there is none, else the "
        "challenger of an A/B experiment against the champion. The reason is audited.",
    )
    add_logical_date(put_up)
    put_up.add_argument("--run", required=True, type=check_run_key, help="the run key")
    put_up.add_argument(
        "--step", type=positive_int, help="the checkpoint (default: best on validation)"
    )
    put_up.add_argument("--reason", required=True, help="why, for the audit log")
    put_up.add_argument("--actor", default=f"{getpass.getuser()}@{socket.gethostname()}")
    parser.set_defaults(handler=run)


def run_stage(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.registry.stage import register_candidate  # torch: keep --help fast

    print(json.dumps(register_candidate(config, args.ds), indent=2))
    return 0


def run(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.registry.store import ModelRegistry  # boto3 for S3: keep --help fast

    settings = config.registry
    if args.registry:
        settings = settings.model_copy(update={"root": args.registry})
    if args.action == "put-up":
        from components.registry.stage import put_up_run  # torch: keep --help fast

        chosen = config.model_copy(update={"registry": settings})
        outcome = put_up_run(chosen, args.ds, args.run, args.step, args.actor, args.reason)
        print(json.dumps(outcome, indent=2))
        return 0
    if args.action == "init":
        created = ModelRegistry.open(settings).storage.create_root()
        print(json.dumps({"root": settings.root, "created": created}, indent=2))
        return 0
    registry = ModelRegistry.existing(settings)
    result: Any
    if args.action == "list":
        aliases = registry.aliases()
        result = {
            "aliases": aliases,
            "versions": [
                {**v.summary(), "aliases": [a for a, n in aliases.items() if n == v.number]}
                for v in registry.versions()
            ],
        }
    elif args.action == "show":
        version = registry.verified(args.version)
        result = {**version.summary(), "sha256": version.manifest["sha256"], "verified": True}
    elif args.action == "diff":
        result = registry.diff(args.first, args.second)
    elif args.action == "promote":
        result = registry.promote(args.actor, args.reason)
    elif args.action == "rollback":
        result = registry.rollback(args.actor, args.reason)
    else:
        result = registry.audit()
    print(json.dumps(result, indent=2, default=str))
    return 0
