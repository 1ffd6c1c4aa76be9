"""What the DAG does when a run fails, a run past its 12-hour timeout included: an error in
the scheduler's log naming the run, its logical date and why. Deployments that page someone
swap in a notifier (Slack, SMTP) here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("adagrpo.alerts")


def run_failed(context: Mapping[str, Any]) -> None:
    """Airflow's DAG ``on_failure_callback``."""
    run = context.get("dag_run")
    log.error(
        "adagrpo_retrain run %s (logical date %s) failed: %s; the day's model is late",
        getattr(run, "run_id", "?"), getattr(run, "logical_date", "?"),
        context.get("reason", "a task failed"),
    )  # fmt: skip
