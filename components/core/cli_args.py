"""Argument types shared by the stage CLIs: bad values are reported by argparse, by name."""

from __future__ import annotations

import argparse
import typing
from datetime import date


def logical_date(value: str) -> date:
    """A logical date ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from None


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
    from components.core.config import TrainConfig

    methods = typing.get_args(TrainConfig.model_fields["method"].annotation)
    parser.add_argument("--method", choices=methods, help=help)
