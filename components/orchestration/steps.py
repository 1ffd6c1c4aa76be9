"""The work behind each DAG task, keyed by the run's logical date and its Params.

Kept out of the DAG file so that the DAG stays cheap to parse and every step is unit-testable.
Stages run through the configured runner; the configuration comes from ``$ADAGRPO_CONFIG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from components.core import layout
from components.core.config import PipelineConfig, load_config
from components.orchestration.runner import StageCall, runner_for


def _window_args(ds: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    return ("--ds", ds, "--lookback-days", str(int(params["lookback_days"])))


def _run(stage: str, *args: str, config: PipelineConfig | None = None) -> None:
    config = config or load_config()
    runner_for(config.runner).run(StageCall(stage, args))


def simulator_enabled() -> bool:
    return load_config().simulate.enabled


def simulate_raw_logs(ds: str, params: Mapping[str, Any]) -> None:
    """Embedded runs only: write the simulated shop's raw logs for the window."""
    _run("simulate", "--scale", str(params["scale"]), *_window_args(ds, params))


def missing_raw_partitions(ds: str, params: Mapping[str, Any]) -> list[str]:
    """Raw partitions of the window that have not landed yet (empty when ready)."""
    from components.core import partitions  # storage pulls in pyarrow: not at DAG parse time
    from components.core.storage import open_storage

    config = load_config()
    storage = open_storage(config.storage)
    days = layout.window(date.fromisoformat(ds), int(params["lookback_days"]))
    keys = [layout.partition(layout.RAW_EXPOSURES, day) for day in days]
    keys.append(layout.partition(layout.RAW_CATALOG, days[-1]))
    return [key for key in keys if not partitions.is_published(storage, key)]


def extract_exposures(ds: str, params: Mapping[str, Any]) -> None:
    _run("extract", *_window_args(ds, params))


def validate_exposures(ds: str, params: Mapping[str, Any]) -> None:
    _run("validate", *_window_args(ds, params))
