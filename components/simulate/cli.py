"""``adagrpo simulate`` and ``adagrpo replay``: the two producers of raw logs."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from components.core.cli_args import logical_date, positive_int, window_days
from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.layout import window
from components.simulate.scales import SCALES

DEFAULT_REPLAY_DAYS = 30


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    simulate = subparsers.add_parser(
        "simulate",
        parents=[common],
        help="write a synthetic shop's raw logs, catalog and hidden truth",
        description="Flags override the simulate section of the configuration.",
    )
    _time_options(simulate)
    simulate.add_argument("--scale", choices=list(SCALES), help="world size (default: config)")
    simulate.add_argument(
        "--chunk-events", type=positive_int, help="events per part file (default: the scale's)"
    )
    simulate.add_argument(
        "--users",
        type=positive_int,
        help="users in the world (default: the scale's); a day's exposures grow with them",
    )
    window = simulate.add_argument_group(
        "daily runs and backfills",
        "Write only the window ending on --ds of the shop opened on --start.",
    )
    window.add_argument("--ds", type=logical_date, help="last day of the window, YYYY-MM-DD")
    window.add_argument(
        "--lookback-days", type=window_days, help="window length (default: config extract)"
    )
    simulate.add_argument(
        "--serve",
        metavar="URL",
        help="take the slates from `adagrpo serve` at URL (e.g. http://127.0.0.1:8080): the "
        "logs carry its experiment and arms, and the users react to its recommendations",
    )
    simulate.set_defaults(handler=_simulate)

    replay = subparsers.add_parser(
        "replay",
        parents=[common],
        help="turn real interaction sequences into raw logs with simulated exposures",
        description="Reads Beauty.txt + item_titles.tsv, or LC-Rec X.inter.json + X.item.json.",
    )
    replay.add_argument("--sequences", type=Path, required=True, help="user sequences file")
    replay.add_argument("--items", type=Path, required=True, help="item titles / metadata file")
    _time_options(replay)
    replay.add_argument("--slate-size", type=positive_int, default=10)
    replay.add_argument(
        "--logging-policy",
        choices=["popularity", "co-occurrence"],
        default="popularity",
        help="what fills each slate around the real item: popular items, or the items that "
        "co-occurred with the user's latest ones in the days before (a production "
        "recommender's plausible candidates), mixed with popular ones",
    )
    replay.set_defaults(handler=_replay)


def _time_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start", type=logical_date, help="first day, YYYY-MM-DD (default: config)"
    )
    parser.add_argument("--days", type=positive_int, help="number of days (default: config/scale)")
    parser.add_argument("--seed", type=int, help="random seed (default: config)")


def _simulate(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.core.storage import open_storage
    from components.simulate.logging_policy import PolicyParams
    from components.simulate.stage import ShopParams, simulate

    settings = config.simulate
    scale = SCALES[args.scale or settings.scale]
    if args.chunk_events:
        scale = replace(scale, chunk_events=args.chunk_events)
    if args.users:
        scale = replace(scale, users=args.users)
    start = args.start or settings.start
    first_day, days = _days_to_write(args, config, start)
    simulate(
        open_storage(config.storage),
        scale,
        seed=settings.seed if args.seed is None else args.seed,
        start=start,
        days=days,
        first_day=first_day,
        params=ShopParams(policy=PolicyParams(**settings.logging_policy.model_dump())),
        serve_url=args.serve,
        history_items=config.datasets.max_history,
    )
    return 0


def _days_to_write(
    args: argparse.Namespace, config: PipelineConfig, start: date
) -> tuple[int, int | None]:
    """(first day after the opening, number of days): the whole run, or the --ds window."""
    if args.ds is None:
        if args.lookback_days:
            raise BadInput("--lookback-days needs --ds")
        return 0, args.days or config.simulate.days
    if args.days:
        raise BadInput("give either --days or --ds with --lookback-days, not both")
    days = args.lookback_days or config.extract.lookback_days
    first = window(args.ds, days)[0]
    if first < start:
        raise BadInput(f"the {days} days ending {args.ds} begin before the shop opened {start}")
    return (first - start).days, days


def _replay(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.core.storage import open_storage
    from components.simulate.replay import FillerPolicy, replay
    from components.simulate.replay_input import load_source

    settings = config.simulate
    replay(
        open_storage(config.storage),
        load_source(args.sequences, args.items),
        start=args.start or settings.start,
        days=args.days or settings.days or DEFAULT_REPLAY_DAYS,
        seed=settings.seed if args.seed is None else args.seed,
        slate_size=args.slate_size,
        policy=FillerPolicy(kind=args.logging_policy),
    )
    return 0
