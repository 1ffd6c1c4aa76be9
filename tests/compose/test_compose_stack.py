"""The compose stack for real, offline: images built from a local base, Postgres, Redis and an
S3 endpoint standing in for the registry-only images, the DAG triggered through Airflow's REST
API, every stage in its own container, the Spark stages on the stack's standalone cluster, the
model registered on the S3 endpoint, and every output byte for byte what the same day run in
Spark's local mode published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.core.config import RegistryConfig
from components.core.storage import LocalStorage
from components.orchestration.airflow_client import AirflowClient, AirflowError
from components.registry.store import ModelRegistry
from tests.compose.conftest import Stack
from tests.dag_runs import DS, LOOKBACK_DAYS
from tests.snapshots import published_files, without_speeds

pytestmark = [pytest.mark.compose, pytest.mark.airflow, pytest.mark.spark]

# Published by only one of the runs or differently by design: the registration names its
# registry, and test_dag_run adds the analysis to the local day.
LOCAL_ONLY = ("promotion/registration/", "analysis/")
# A bound on a hung run, not a speed target.
RUN_TIMEOUT_S = 3600


def test_the_dag_runs_every_stage_in_containers_and_registers_on_s3(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tiny_dag_day: Path, tmp_path: Path
) -> None:
    client = AirflowClient(stack.airflow_url, "admin", stack.settings["AIRFLOW_ADMIN_PASSWORD"])
    client.wait_for_dag()
    client.unpause()
    run_id = client.trigger(DS, {"lookback_days": LOOKBACK_DAYS, "scale": "tiny"})
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
    assert "spark://spark-master:7077" in client.task_log(run_id, "extract_exposures")

    # What the cluster published is what local mode published for the same day (tiny_dag_day),
    # but for the registration (this registry is on S3) and the policies' measured speeds.
    stack.copy_lake(tmp_path / "lake")
    on_cluster = published_files(LocalStorage(tmp_path / "lake"), "")
    local = published_files(LocalStorage(tiny_dag_day / "root"), "")
    expected = {key: data for key, data in local.items() if not key.startswith(LOCAL_ONLY)}
    assert sorted(key for key in on_cluster if not key.startswith(LOCAL_ONLY)) == sorted(expected)
    assert [
        key for key in expected
        if without_speeds(key, on_cluster[key]) != without_speeds(key, expected[key])
    ] == []  # fmt: skip

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
