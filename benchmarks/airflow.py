"""The DAG under a live scheduler against `airflow dags test`, side by side on this machine: the
demo day (make demo's Params) both ways, the scheduler's latency per task (how long a task waited
after its last upstream task ended), and a three-day backfill of the tiny shop. Writes
``benchmarks/results/airflow.json``.

    python -m benchmarks.airflow        (make bench-airflow; about 35 minutes on 2 cores)
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

from benchmarks.run import RESULTS, machine
from components.orchestration.airflow_client import AirflowClient
from tests.live.local_airflow import DAY_TIMEOUT_S, REPO, TINY_SHOP, local_airflow

DEMO_DAY = date(2026, 11, 14)
DEMO_CONF = {"lookback_days": 14, "scale": "demo"}
DEMO_SETTINGS = {"ADAGRPO_CONFIG": str(REPO / "configs/demo.yaml")}
BACKFILL_DAYS = (date(2026, 11, 2), date(2026, 11, 4))
BACKFILL_CONF = {"lookback_days": 2, "scale": "tiny"}


def dags_test_s(base: Path) -> float:
    """Wall seconds of scripts/run-dag.sh (`airflow dags test`) for the demo day."""
    environment = {
        **os.environ,
        **DEMO_SETTINGS,
        "AIRFLOW_HOME": str(base / "airflow"),
        "ADAGRPO__STORAGE__ROOT": str(base / "root"),
        "ADAGRPO__REGISTRY__ROOT": str(base / "registry"),
    }
    started = time.perf_counter()
    subprocess.run(
        [str(REPO / "scripts/run-dag.sh"), DEMO_DAY.isoformat(), json.dumps(DEMO_CONF)],
        env=environment, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return round(time.perf_counter() - started, 1)


def scheduled_run(client: AirflowClient) -> dict[str, Any]:
    """The demo day triggered on a live Airflow: wall seconds from trigger to success, and the
    latency of each task."""
    started = time.perf_counter()
    run_id = client.trigger(DEMO_DAY, DEMO_CONF)
    client.wait(run_id, timeout_s=4 * DAY_TIMEOUT_S)
    wall_s = round(time.perf_counter() - started, 1)
    latencies = task_latencies(client, run_id)
    return {
        "wall_s": wall_s,
        "tasks": len(latencies),
        "task_latency_s": {
            "mean": round(mean(latencies.values()), 2),
            "median": round(median(latencies.values()), 2),
            "max": round(max(latencies.values()), 2),
        },
    }


def task_latencies(client: AirflowClient, run_id: str) -> dict[str, float]:
    """Seconds each task that ran waited after its last upstream task ended (the run's start
    for the first task)."""
    upstream = client.upstream_tasks()
    times = {
        ti["task_id"]: (_instant(ti["start_date"]), _instant(ti["end_date"]))
        for ti in client.task_instances(run_id)
        if ti["start_date"] is not None
    }
    run_start = _instant(client.run(run_id)["start_date"])
    return {
        task: start - max((times[up][1] for up in upstream[task] if up in times), default=run_start)
        for task, (start, _) in times.items()
    }


def _instant(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def backfill_s(client: AirflowClient) -> float:
    """Wall seconds of a backfill of BACKFILL_DAYS, from its creation to its last success."""
    started = time.perf_counter()
    backfill = client.create_backfill(*BACKFILL_DAYS, BACKFILL_CONF)
    client.wait_for_backfill(backfill, timeout_s=6 * DAY_TIMEOUT_S)
    return round(time.perf_counter() - started, 1)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-airflow-") as scratch:
        base = Path(scratch)
        (base / "dags-test").mkdir()
        dags_test = dags_test_s(base / "dags-test")
        (base / "scheduled").mkdir()
        with local_airflow(base / "scheduled", DEMO_SETTINGS) as airflow:
            scheduled = scheduled_run(airflow.client())
        (base / "backfill").mkdir()
        with local_airflow(base / "backfill", TINY_SHOP) as airflow:
            backfill = backfill_s(airflow.client())
    days = (BACKFILL_DAYS[1] - BACKFILL_DAYS[0]).days + 1
    result: dict[str, Any] = {
        "benchmark": "airflow",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "demo_day": {"ds": DEMO_DAY.isoformat(), "params": DEMO_CONF},
        "dags_test_s": dags_test,
        "scheduler": scheduled,
        "scheduler_over_dags_test": round(scheduled["wall_s"] / dags_test, 2),
        "scheduler_overhead_per_task_s": round(
            (scheduled["wall_s"] - dags_test) / scheduled["tasks"], 1
        ),
        "tiny_backfill": {
            "days": days,
            "params": BACKFILL_CONF,
            "wall_s": backfill,
            "per_day_s": round(backfill / days, 1),
        },
    }
    (RESULTS / "airflow.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
