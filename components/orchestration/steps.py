"""The work behind each DAG task, keyed by the run's logical date and its Params.

Kept out of the DAG file so that the DAG stays cheap to parse and every step is unit-testable.
Stages run through the configured runner; the configuration comes from ``$ADAGRPO_CONFIG``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from components.core import layout
from components.core.config import load_config
from components.orchestration.runner import StageCall, StageRejectedInput, runner_for
from components.stages import STAGES


def stage_call(
    stage: str, ds: str, params: Mapping[str, Any], method: str | None = None
) -> StageCall:
    """The CLI call of ``stage`` for the run of logical date ``ds`` (``method``: the training
    method a train or evaluate task is about)."""
    args: tuple[str, ...] = ("--ds", ds)
    if method is not None:
        args += ("--method", method)
    if STAGES[stage].windowed:  # late events land up to a day late
        args += ("--lookback-days", str(int(params["lookback_days"])))
    if stage == "simulate":
        args += ("--scale", str(params["scale"]))
    if stage == "semantic-ids" and params["codebook"] == "refit":
        args += ("--refit",)
    return StageCall(stage, args)


def run_stage(stage: str, ds: str, params: Mapping[str, Any], method: str | None = None) -> None:
    """Run ``stage`` for the logical date ``ds``; a stage that refused its input fails the task
    without its retries, any other failure is retried."""
    try:
        runner_for(load_config(), stage).run(stage_call(stage, ds, params, method))
    except StageRejectedInput as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def registers(run_type: str, params: Mapping[str, Any]) -> bool:
    """Whether the run writes to the model registry: every run but a backfill, which does
    only when its Param ``backfill_registry`` says so."""
    return run_type != "backfill" or params["backfill_registry"] == "register"


def simulator_enabled() -> bool:
    """Embedded runs simulate their raw logs; production waits for them to land."""
    return load_config().simulate.enabled


def missing_raw_partitions(ds: str, params: Mapping[str, Any]) -> list[str]:
    """Raw partitions of the window that have not landed yet (empty when ready)."""
    from components.core import partitions  # storage pulls in pyarrow: not at DAG parse time
    from components.core.storage import open_storage

    storage = open_storage(load_config().storage)
    days = layout.window(date.fromisoformat(ds), int(params["lookback_days"]))
    keys = [layout.partition(layout.RAW_EXPOSURES, day) for day in days]
    keys.append(layout.partition(layout.RAW_CATALOG, days[-1]))
    return [key for key in keys if not partitions.is_published(storage, key)]
