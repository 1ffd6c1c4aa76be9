"""A client of Airflow's REST API v2 for the runs this project starts: log in, unpause the DAG,
trigger a run for a logical date, wait for it and say which tasks failed.

    python -m components.orchestration.airflow_client --url http://127.0.0.1:8080 \\
        --password-env AIRFLOW_ADMIN_PASSWORD trigger 2026-11-14 --conf '{"scale": "tiny"}'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

DAG_ID = "adagrpo_retrain"
FINISHED = frozenset({"success", "failed"})


class AirflowError(RuntimeError):
    """Airflow answered with an error, or a run did not succeed."""


class AirflowClient:
    def __init__(self, url: str, username: str, password: str, timeout_s: float = 30.0) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)
        token = self._call("POST", "/auth/token", json={"username": username, "password": password})
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.is_error:
            raise AirflowError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def wait_for_dag(self, dag_id: str = DAG_ID, timeout_s: float = 300) -> None:
        """Until the DAG processor has parsed the DAG (a fresh stack has no DAGs yet)."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.http.get(f"/api/v2/dags/{dag_id}")
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"DAG {dag_id} not parsed after {timeout_s:.0f} s: {response.text}"
                )
            time.sleep(3)

    def unpause(self, dag_id: str = DAG_ID) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, logical_date: date, conf: Mapping[str, Any], dag_id: str = DAG_ID) -> str:
        """Start a run for ``logical_date``; returns its run id."""
        run = self._call(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": f"{logical_date.isoformat()}T00:00:00Z", "conf": dict(conf)},
        )
        return str(run["dag_run_id"])

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        return str(self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
        answer = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {task["task_id"]: task["state"] for task in answer["task_instances"]}

    def task_log(self, run_id: str, task_id: str, try_number: int = 1, dag_id: str = DAG_ID) -> str:
        """The task's log lines, as the UI shows them."""
        answer = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        events = answer["content"]
        return "\n".join(e.get("event", "") if isinstance(e, dict) else str(e) for e in events)

    def wait(self, run_id: str, timeout_s: float, dag_id: str = DAG_ID, poll_s: float = 10) -> None:
        """Until the run finishes, printing each task's state as it changes; raises unless it
        succeeded."""
        deadline = time.monotonic() + timeout_s
        seen: dict[str, str | None] = {}
        while (state := self.run_state(run_id, dag_id)) not in FINISHED:
            tasks = self.task_states(run_id, dag_id)
            for task, task_state in tasks.items():
                if seen.get(task) != task_state and task_state is not None:
                    print(f"{run_id}: {task} {task_state}", file=sys.stderr, flush=True)
            seen = tasks
            if time.monotonic() > deadline:
                raise AirflowError(f"run {run_id} still {state} after {timeout_s:.0f} s")
            time.sleep(poll_s)
        if state != "success":
            failed = [task for task, s in self.task_states(run_id, dag_id).items() if s == "failed"]
            raise AirflowError(f"run {run_id} {state}; failed tasks: {failed} (see their logs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--password-env", default="AIRFLOW_ADMIN_PASSWORD", help="variable holding the password"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    trigger = actions.add_parser("trigger", help="unpause the DAG, run one day, wait for it")
    trigger.add_argument("ds", type=date.fromisoformat)
    trigger.add_argument("--conf", type=json.loads, default={}, help="the run's Params (JSON)")
    trigger.add_argument("--timeout-s", type=float, default=3600)
    args = parser.parse_args(argv)

    password = os.environ.get(args.password_env)
    if not password:
        parser.error(f"set {args.password_env} to the Airflow password")
    client = AirflowClient(args.url, args.user, password)
    client.wait_for_dag()
    client.unpause()
    run_id = client.trigger(args.ds, args.conf)
    print(f"triggered {run_id}", file=sys.stderr)
    client.wait(run_id, args.timeout_s)
    print(f"{run_id}: success", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
