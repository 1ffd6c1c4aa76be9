"""A live Airflow on loopback (``scripts/airflow-local.sh``: api-server, scheduler,
dag-processor and triggerer on SQLite and LocalExecutor), brought up once for the live tests with
the tiny shop's settings and stopped after them."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from components.orchestration.airflow_client import AirflowClient
from tests.network import free_port

REPO = Path(__file__).resolve().parents[2]
# Bounds on hung steps, not speed targets: a busy 2-core machine runs a tiny day in minutes.
START_TIMEOUT_S = 300
DAY_TIMEOUT_S = 900


@dataclass(frozen=True)
class LiveAirflow:
    url: str
    password: str
    root: Path  # the pipeline's storage root
    registry: Path  # the model registry's root
    environment: dict[str, str]  # what the stages and the `airflow` CLI run with

    def client(self) -> AirflowClient:
        return AirflowClient(self.url, "admin", self.password)

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``airflow ARGS`` on this Airflow's metadata database."""
        return subprocess.run(
            [str(REPO / ".venv/bin/airflow"), *args], env=self.environment, text=True,
            capture_output=True, timeout=120,
        )  # fmt: skip


@pytest.fixture(scope="session")
def live_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    base = tmp_path_factory.mktemp("live")
    port = free_port()
    environment = {
        **os.environ,
        "AIRFLOW_HOME": str(base / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW_PORT": str(port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(12),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "ADAGRPO__STORAGE__ROOT": str(base / "root"),
        "ADAGRPO__REGISTRY__ROOT": str(base / "registry"),
        "ADAGRPO__SPARK__MASTER": "local[2]",
        "ADAGRPO__RL__STEPS": "12",
        "ADAGRPO__RL__CHECKPOINT_EVERY": "6",
        "ADAGRPO__PROMOTION__MAX_HALLUCINATION": "1",  # the tiny shop's policies are weak
    }
    log = base / "airflow-local.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(REPO / "scripts/airflow-local.sh")], env=environment, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, process, log)
        airflow = LiveAirflow(
            url, environment["AIRFLOW_ADMIN_PASSWORD"], base / "root", base / "registry",
            environment,
        )  # fmt: skip
        client = airflow.client()
        client.wait_for_dag()
        client.unpause()  # backfills of a paused DAG stay queued; no schedule runs (the default)
        yield airflow
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"airflow-local.sh exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(2)
    pytest.fail(f"Airflow did not answer at {url} in {START_TIMEOUT_S} s:\n{log.read_text()}")
