"""A live Airflow on loopback (``scripts/airflow-local.sh``: api-server, scheduler,
dag-processor and triggerer on SQLite and LocalExecutor) in a folder of its own, for the live
tests and the Airflow benchmark."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from components.orchestration.airflow_client import AirflowClient
from tests.network import free_port

REPO = Path(__file__).resolve().parents[2]
# Bounds on hung steps, not speed targets: a busy 2-core machine runs a tiny day in minutes.
START_TIMEOUT_S = 300
DAY_TIMEOUT_S = 900
# The tiny shop of the DAG tests: embedded defaults, short RL, floors open for weak policies.
TINY_SHOP = {
    "ADAGRPO__SPARK__MASTER": "local[2]",
    "ADAGRPO__RL__STEPS": "12",
    "ADAGRPO__RL__CHECKPOINT_EVERY": "6",
    "ADAGRPO__PROMOTION__MAX_HALLUCINATION": "1",
}


class AirflowDidNotStart(RuntimeError):
    """airflow-local.sh exited, or its api-server never answered; the message holds its log."""


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
        """``airflow ARGS`` on this Airflow's metadata database, through the wrapper a user runs
        (it shares the scheduler's database settings, so a CLI write waits for the
        scheduler's instead of failing with "database is locked")."""
        return subprocess.run(
            [str(REPO / "scripts/airflow-cli.sh"), *args], env=self.environment, text=True,
            capture_output=True, timeout=180,
        )  # fmt: skip


@contextmanager
def local_airflow(base: Path, settings: Mapping[str, str]) -> Iterator[LiveAirflow]:
    """Airflow under ``base`` (its home, the storage and registry roots) on free ports, the
    stages run with ``settings``; the DAG parsed and unpaused (no schedule runs: backfills of a
    paused DAG would stay queued). Stopped on exit."""
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
        **settings,
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
        client.unpause()
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
            raise AirflowDidNotStart(f"airflow-local.sh exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(2)
    raise AirflowDidNotStart(f"no answer at {url} in {START_TIMEOUT_S} s:\n{log.read_text()}")
