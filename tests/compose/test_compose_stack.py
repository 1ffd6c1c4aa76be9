"""The compose stack for real, offline: images built from a local base, Postgres, Redis and an
S3 endpoint standing in for the registry-only images, the DAG triggered through Airflow's REST
API, every stage in its own container, the model registered on the S3 endpoint."""

from __future__ import annotations

import json
from datetime import date

import pytest

from components.core.config import RegistryConfig
from components.orchestration.airflow_client import AirflowClient, AirflowError
from components.registry.store import ModelRegistry
from tests.compose.conftest import Stack

pytestmark = pytest.mark.compose

DS = date(2026, 11, 3)
# A bound on a hung run, not a speed target.
RUN_TIMEOUT_S = 3600


def test_the_dag_runs_every_stage_in_containers_and_registers_on_s3(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = AirflowClient(stack.airflow_url, "admin", stack.settings["AIRFLOW_ADMIN_PASSWORD"])
    client.wait_for_dag()
    client.unpause()
    run_id = client.trigger(DS, {"lookback_days": 2, "scale": "tiny"})
    try:
        client.wait(run_id, RUN_TIMEOUT_S)
    except AirflowError as error:
        failed = [t for t, state in client.task_states(run_id).items() if state == "failed"]
        logs = "\n".join(client.task_log(run_id, task)[-3000:] for task in failed)
        pytest.fail(f"{error}\n{logs}")

    states = client.task_states(run_id)
    assert set(states.values()) == {"success"}, states
    assert "running stage in adagrpo/trainer:local" in client.task_log(run_id, "train_adagrpo")
    assert "running stage in adagrpo/pipeline:local" in client.task_log(run_id, "extract_exposures")

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        key = "S3_ACCESS_KEY" if name == "AWS_ACCESS_KEY_ID" else "S3_SECRET_KEY"
        monkeypatch.setenv(name, stack.settings[key])
    registry = ModelRegistry.open(
        RegistryConfig(
            root=f"s3://{stack.settings['S3_REGISTRY_BUCKET']}/models",
            s3_endpoint_url=stack.s3_url,
            s3_region="us-east-1",
        )
    )
    (version,) = registry.versions()
    assert registry.aliases() == {"champion": version.number, "challenger": None}
    assert version.manifest["identity"].startswith(f"dt={DS}/")
    registry.verified(version.number)

    # A stage by hand, in the pipeline image with the stack's settings.
    listing = stack.compose("run", "--rm", "--no-deps", "pipeline", "registry", "list")
    assert listing.returncode == 0, listing.stderr[-3000:]
    assert json.loads(listing.stdout)["aliases"]["champion"] == version.number
