"""The ``adagrpo`` command: one subcommand per pipeline stage.

Each stage package has a ``cli`` module with ``register(subparsers, common)``; handlers receive
the parsed arguments and the effective configuration and return an exit code. Stage modules
import their heavy libraries inside the handler so that ``adagrpo --help`` stays fast.

An expected failure is one line naming the problem, and its exit code tells the orchestrator
whether to retry: 2 when a person must fix something first, 75 when it may heal by itself.
Anything else is a bug: its traceback, exit 1 (components/core/errors.py).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from components.core.config import PipelineConfig, load_config
from components.core.errors import EXIT_BAD_INPUT, EXIT_TRANSIENT, exit_code
from components.stages import cli_modules

STAGE_MODULES = cli_modules()


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="YAML config file (default: $ADAGRPO_CONFIG or built-in)")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set spark.master=local[2] (repeatable)",
    )
    common.add_argument("--root", help="storage root: a folder or s3://bucket/prefix")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adagrpo", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="STAGE")
    common = _common_options()
    for module in STAGE_MODULES:
        importlib.import_module(module).register(subparsers, common)
    show = subparsers.add_parser("config", parents=[common], help="print the effective config")
    show.add_argument(
        "--check",
        action="store_true",
        help="instead, say what this config asks that this installation cannot do (exit 2)",
    )
    show.set_defaults(handler=_config)
    return parser


def _config(args: argparse.Namespace, config: PipelineConfig) -> int:
    if not args.check:
        print(config.to_yaml(), end="")
        return 0
    from components.core.preflight import Installation, check

    findings = check(config, Installation.probe())
    for finding in findings:
        print(f"cannot run: {finding}")
    if not findings:
        print("this installation can run every stage of this config")
    return EXIT_BAD_INPUT if findings else 0


def effective_config(args: argparse.Namespace) -> PipelineConfig:
    config = load_config(args.config, args.overrides)
    if args.root:  # a path, taken verbatim (not parsed as YAML like --set values)
        storage = config.storage.model_copy(update={"root": args.root})
        config = config.model_copy(update={"storage": storage})
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger("adagrpo")
    try:
        config = effective_config(args)
        return int(args.handler(args, config) or 0)
    except Exception as exc:
        code = exit_code(exc)
        if code == EXIT_TRANSIENT:  # a service down, a race lost, a full disk: retry later
            log.error("%s (transient: retrying may succeed)", exc, exc_info=args.verbose)
        elif code == EXIT_BAD_INPUT:  # one line naming the fix; --verbose adds the traceback
            log.error("%s", exc, exc_info=args.verbose)
        else:
            log.exception("unexpected failure (a bug; the traceback follows): %s", exc)
        return code


if __name__ == "__main__":
    sys.exit(main())
