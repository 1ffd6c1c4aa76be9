"""The pods the kubernetes runner submits, built by the cncf-kubernetes provider's own
KubernetesPodOperator (no cluster needed to build one)."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.config import ConfigError, load_config
from components.orchestration.kubernetes_runner import KubernetesRunner
from components.orchestration.runner import StageCall, runner_for

PRODUCTION = [
    "runner.default=kubernetes",
    "runner.image=registry.example.com/adagrpo/pipeline:1.0",
    "runner.images={train: registry.example.com/adagrpo/trainer:1.0}",
    "runner.kubernetes.namespace=recsys",
    "runner.kubernetes.service_account=adagrpo-s3",
    "runner.kubernetes.gpus={train: 4}",
    "runner.kubernetes.gpu_node_selector={cloud.google.com/gke-accelerator: nvidia-h100-80gb}",
    "runner.kubernetes.environment_secret=adagrpo-s3-credentials",
    "spark.master=spark://spark-master.recsys:7077",
    "storage.root=s3://recsys-lake/adagrpo",
]


def pod_of(stage: str, *args: str, overrides: list[str] = PRODUCTION) -> dict[str, Any]:
    config = load_config(environ={}, overrides=overrides)
    operator = KubernetesRunner(config).operator(StageCall(stage, args))
    return dict(operator.build_pod_request_obj(dry_run=True).to_dict())


def test_the_training_pod_asks_for_its_gpus_on_gpu_nodes() -> None:
    pod = pod_of("train", "--ds", "2026-11-14", "--method", "adagrpo")
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "registry.example.com/adagrpo/trainer:1.0"
    assert container["args"] == ["train", "--ds", "2026-11-14", "--method", "adagrpo"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "4"}
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}
    assert pod["spec"]["node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    (toleration,) = pod["spec"]["tolerations"]
    assert (toleration["key"], toleration["operator"], toleration["effect"]) == (
        "nvidia.com/gpu", "Exists", "NoSchedule"
    )  # fmt: skip
    assert pod["metadata"]["namespace"] == "recsys"
    assert pod["spec"]["service_account_name"] == "adagrpo-s3"


def test_a_cpu_stage_pod_stays_off_the_gpu_nodes() -> None:
    pod = pod_of("extract", "--ds", "2026-11-14", "--lookback-days", "2")
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "registry.example.com/adagrpo/pipeline:1.0"
    assert container["resources"]["limits"] is None
    assert not pod["spec"]["node_selector"] and not pod["spec"]["tolerations"]


def test_the_pod_carries_the_resolved_config_and_the_credentials_secret() -> None:
    pod = pod_of("extract", "--ds", "2026-11-14")
    (container,) = pod["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    pod_config = load_config(environ=env)
    assert pod_config.spark.master == "spark://spark-master.recsys:7077"
    assert pod_config.storage.root == "s3://recsys-lake/adagrpo"
    (source,) = container["env_from"]
    assert source["secret_ref"]["name"] == "adagrpo-s3-credentials"


def test_a_volume_claim_is_mounted_where_the_data_lake_is() -> None:
    pod = pod_of("train", overrides=[*PRODUCTION, "runner.kubernetes.volume_claim=adagrpo-lake"])
    (volume,) = pod["spec"]["volumes"]
    assert volume["persistent_volume_claim"]["claim_name"] == "adagrpo-lake"
    (mount,) = pod["spec"]["containers"][0]["volume_mounts"]
    assert (mount["name"], mount["mount_path"]) == (volume["name"], "/data")


def test_only_the_stages_configured_for_kubernetes_run_in_pods() -> None:
    config = load_config(environ={}, overrides=["runner.stages={train: kubernetes}"])
    assert isinstance(runner_for(config, "train"), KubernetesRunner)
    assert not isinstance(runner_for(config, "extract"), KubernetesRunner)


def test_a_gpu_count_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        load_config(environ={}, overrides=["runner.kubernetes.gpus={train: 0}"])
