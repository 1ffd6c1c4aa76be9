"""What the DAG does when a run misses its deadline: an error in the triggerer's log naming the
run and the deadline. Deployments that page someone swap in a notifier (Slack, SMTP) here."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("adagrpo.alerts")


async def missed_deadline(context: dict[str, Any], **_: Any) -> None:
    """Airflow's deadline callback: ``context`` holds the run (as the REST API shows it) and
    the deadline."""
    run, deadline = context["dag_run"], context["deadline"]
    log.error(
        "%s run %s (logical date %s) missed its deadline %s: the day's model is late",
        run["dag_id"], run["dag_run_id"], run.get("logical_date"), deadline["deadline_time"],
    )  # fmt: skip
