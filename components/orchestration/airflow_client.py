"""A client of Airflow's REST API v2 for the runs this project starts: log in, unpause the DAG,
trigger a run for a logical date or a backfill of a date range, wait for it and say which tasks
or days failed.

    python -m components.orchestration.airflow_client --url http://127.0.0.1:8080 \\
        --password-env AIRFLOW_ADMIN_PASSWORD trigger 2026-11-14 --conf '{"scale": "tiny"}'
    python -m components.orchestration.airflow_client backfill 2026-11-02 2026-11-04 \\
        --reprocess completed --conf '{"backfill_registry": "register"}'
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
# Which days a backfill runs: those without a run, those whose run failed too, or every day.
REPROCESS = ("none", "failed", "completed")


def midnight(day: date) -> str:
    """A logical date as the API takes it: midnight UTC."""
    return f"{day.isoformat()}T00:00:00Z"


BUSY_PAUSES_S = (1, 2, 4, 8, 16, 0)  # about half a minute of 503s before giving up


class AirflowError(RuntimeError):
    """Airflow answered with an error, or a run did not succeed."""


class AirflowClient:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, transport=transport)
        token = self._call("POST", "/auth/token", json={"username": username, "password": password})
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        # 503 is Airflow saying "not now" (on SQLite: the database is locked by the scheduler or
        # the DAG processor, and the request was not carried out): try again after a pause.
        for pause in BUSY_PAUSES_S:
            response = self.http.request(method, path, **kwargs)
            if response.status_code != 503:
                break
            time.sleep(pause)
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
            json={"logical_date": midnight(logical_date), "conf": dict(conf)},
        )
        return str(run["dag_run_id"])

    def runs_on(self, logical_date: date, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        """The DAG's runs of ``logical_date``, whatever started them."""
        day = midnight(logical_date)
        answer = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns",
            params={"logical_date_gte": day, "logical_date_lte": day},
        )
        return list(answer["dag_runs"])

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        return dict(self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        return str(self.run(run_id, dag_id)["state"])

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        answer = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return list(answer["task_instances"])

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
        return {task["task_id"]: task["state"] for task in self.task_instances(run_id, dag_id)}

    def upstream_tasks(self, dag_id: str = DAG_ID) -> dict[str, list[str]]:
        """Each task of the DAG and the tasks it waits for."""
        tasks = self._call("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]
        upstream: dict[str, list[str]] = {task["task_id"]: [] for task in tasks}
        for task in tasks:
            for child in task["downstream_task_ids"]:
                upstream[child].append(task["task_id"])
        return upstream

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

    def create_backfill(
        self,
        first: date,
        last: date,
        conf: Mapping[str, Any],
        reprocess: str = "none",
        dag_id: str = DAG_ID,
    ) -> int:
        """A backfill of every day from ``first`` to ``last``, oldest first and one at a time
        (a day's codebook version comes from the days before it); returns its id."""
        backfill = self._call(
            "POST",
            "/api/v2/backfills",
            json={
                "dag_id": dag_id,
                "from_date": midnight(first),
                "to_date": midnight(last),
                "run_backwards": False,
                "dag_run_conf": dict(conf),
                "reprocess_behavior": reprocess,
                "max_active_runs": 1,
            },
        )
        return int(backfill["id"])

    def latest_backfill(self, dag_id: str = DAG_ID) -> dict[str, Any]:
        """The DAG's newest backfill (one created from the CLI or the UI, for instance)."""
        answer = self._call("GET", "/api/v2/backfills", params={"dag_id": dag_id, "limit": 1000})
        if not answer["backfills"]:
            raise AirflowError(f"DAG {dag_id} has no backfill")
        return dict(max(answer["backfills"], key=lambda backfill: backfill["id"]))

    def backfill_runs(self, first: date, last: date, dag_id: str = DAG_ID) -> dict[date, str]:
        """The state of each day's backfill run from ``first`` to ``last``."""
        answer = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns",
            params={
                "run_type": "backfill",
                "logical_date_gte": midnight(first),
                "logical_date_lte": midnight(last),
                "limit": 1000,
            },
        )
        return {date.fromisoformat(r["logical_date"][:10]): r["state"] for r in answer["dag_runs"]}

    def wait_for_backfill(
        self, backfill_id: int, timeout_s: float, dag_id: str = DAG_ID, poll_s: float = 10
    ) -> dict[date, str]:
        """Until every run of the backfill finished, printing each day's state as it changes;
        raises unless every day succeeded. Each day's state."""
        deadline = time.monotonic() + timeout_s
        seen: dict[date, str] = {}
        while True:
            backfill = self._call("GET", f"/api/v2/backfills/{backfill_id}")
            first, last = (
                date.fromisoformat(backfill[end][:10]) for end in ("from_date", "to_date")
            )
            runs = self.backfill_runs(first, last, dag_id)
            for day, state in runs.items():
                if seen.get(day) != state:
                    print(f"backfill {backfill_id}: {day} {state}", file=sys.stderr, flush=True)
            seen = runs
            if backfill["completed_at"] is not None:
                break
            if time.monotonic() > deadline:
                raise AirflowError(f"backfill {backfill_id} still running after {timeout_s:.0f} s")
            time.sleep(poll_s)
        failed = sorted(day.isoformat() for day, state in runs.items() if state != "success")
        if failed:
            raise AirflowError(f"backfill {backfill_id}: days {failed} did not succeed")
        return runs


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
    backfill = actions.add_parser("backfill", help="unpause the DAG, backfill days, wait")
    backfill.add_argument("first", type=date.fromisoformat, help="the first logical date")
    backfill.add_argument("last", type=date.fromisoformat, help="the last one (inclusive)")
    backfill.add_argument("--conf", type=json.loads, default={}, help="every run's Params (JSON)")
    backfill.add_argument(
        "--reprocess", choices=REPROCESS, default="none", help="days that already have a run"
    )
    backfill.add_argument("--timeout-s", type=float, default=24 * 3600)
    args = parser.parse_args(argv)

    password = os.environ.get(args.password_env)
    if not password:
        parser.error(f"set {args.password_env} to the Airflow password")
    client = AirflowClient(args.url, args.user, password)
    client.wait_for_dag()
    client.unpause()  # a paused DAG's runs stay queued, backfills' too
    if args.action == "backfill":
        backfill_id = client.create_backfill(args.first, args.last, args.conf, args.reprocess)
        print(f"backfill {backfill_id} created", file=sys.stderr)
        client.wait_for_backfill(backfill_id, args.timeout_s)
        print(f"backfill {backfill_id}: every day succeeded", file=sys.stderr)
        return 0
    run_id = client.trigger(args.ds, args.conf)
    print(f"triggered {run_id}", file=sys.stderr)
    client.wait(run_id, args.timeout_s)
    print(f"{run_id}: success", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
