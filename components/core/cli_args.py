"""Argument types shared by the stage CLIs: bad values are reported by argparse, by name."""

from __future__ import annotations

import argparse
from datetime import date

from components.core.config import PipelineConfig
from components.core.methods import METHODS


def logical_date(value: str) -> date:
    """A logical date ``YYYY-MM-DD`` within the calendar the pipeline works in: any window
    ending on it, or days after it, stay dates."""
    from components.core.layout import FIRST_DAY, LAST_DAY

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{value} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


def window_days(value: str) -> int:
    """A window's length in days, from 1 to ``layout.MAX_WINDOW_DAYS``."""
    from components.core.layout import MAX_WINDOW_DAYS

    days = positive_int(value)
    if days > MAX_WINDOW_DAYS:
        raise argparse.ArgumentTypeError(f"{days} days is more than {MAX_WINDOW_DAYS}")
    return days


def add_logical_date(
    parser: argparse.ArgumentParser, help: str = "logical date YYYY-MM-DD"
) -> None:
    """``--ds``, the day a stage works on: the one option every daily stage shares."""
    parser.add_argument("--ds", required=True, type=logical_date, help=help)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def add_method_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--method``, one of the training methods the configuration knows."""
    parser.add_argument("--method", choices=list(METHODS), help=help)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--method`` and ``--run``: which training run of the day a command reads."""
    add_method_option(parser, help="the run this method trains with the config's knobs")
    parser.add_argument(
        "--run",
        metavar="KEY",
        type=check_run_key,
        help="the run key, as `adagrpo train` prints it (e.g. method=nll,continued)",
    )


def port_number(value: str) -> int:
    """A TCP port, 0 to 65535 (0: the system picks a free one)."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 65_535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port from 0 to 65535")
    return number


def experiment_id(value: str) -> str:
    """An experiment id as ``--experiment`` takes it: safe as a file name."""
    from components.core.ids import path_id

    try:
        return path_id("experiment id", value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_run_key(value: str) -> str:
    """A run key as ``--run`` and ``--init`` take it."""
    from components.core.layout import check_run_key as check

    try:
        return check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def chosen_run(args: argparse.Namespace, config: PipelineConfig) -> str:
    """The run key ``--run`` names, or the one ``--method`` (default: config) trains."""
    from components.core.layout import run_key

    if args.run:
        return str(args.run)
    method = args.method or config.train.method
    return run_key(method, config.rl, config.train.seed, from_init=False)
