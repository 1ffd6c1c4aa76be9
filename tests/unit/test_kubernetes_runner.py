"""The pods and the multi-node training Job the kubernetes runner submits, built by the
cncf-kubernetes provider's own KubernetesPodOperator and KubernetesJobOperator (no cluster needed
to build one; the API calls that would submit them are recorded)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from components.core.config import ConfigError, load_config
from components.orchestration.kubernetes_runner import JOB_LABEL, KubernetesRunner
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


NODES = [*PRODUCTION, "runner.kubernetes.train_nodes=3", "runner.kubernetes.in_cluster=false"]
TRAIN_CALL = StageCall("train", ("--ds", "2026-11-14", "--method", "adagrpo"))


def offline_kubeconfig(folder: Path) -> Path:
    """A kubeconfig naming a cluster nobody serves: the provider builds manifests from it
    without a connection."""
    path = folder / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "offline"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def multinode_runner(tmp_path: Path) -> KubernetesRunner:
    kubeconfig = offline_kubeconfig(tmp_path)
    overrides = [*NODES, f"runner.kubernetes.config_file={kubeconfig}"]
    return KubernetesRunner(load_config(environ={}, overrides=overrides))


def test_multinode_training_is_an_indexed_job_of_gpu_pods_meeting_at_pod_zero(
    tmp_path: Path,
) -> None:
    runner = multinode_runner(tmp_path)
    operator = runner.training_job(TRAIN_CALL, attempt="scheduled__2026-11-14/1")
    job = operator.build_job_request_obj().to_dict()

    name = job["metadata"]["name"]
    assert name == f"job-{operator.name}" and len(f"{name}-255") <= 63  # pods' hostnames
    spec = job["spec"]
    assert (spec["completion_mode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["backoff_limit"] == 0 and spec["ttl_seconds_after_finished"] == 86_400
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == name and pod["restart_policy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/adagrpo/trainer:1.0"
    assert container["args"] == TRAIN_CALL.argv()
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "4"}
    assert pod["node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert {key: env[key] for key in ("PET_NNODES", "PET_RDZV_BACKEND", "PET_RDZV_ID")} == {
        "PET_NNODES": "3", "PET_RDZV_BACKEND": "c10d", "PET_RDZV_ID": name,
    }  # fmt: skip
    assert env["PET_RDZV_ENDPOINT"] == f"{name}-0.{name}:29400"  # pod 0 in the service
    assert load_config(environ=env).storage.root == "s3://recsys-lake/adagrpo"
    assert spec["template"]["metadata"]["labels"][JOB_LABEL] == name

    service = runner.rendezvous_service(operator).to_dict()
    assert service["metadata"]["name"] == name  # the pods' subdomain
    assert service["metadata"]["namespace"] == "recsys"
    assert service["spec"]["cluster_ip"] == "None"  # headless: a DNS name per pod
    assert service["spec"]["selector"] == {JOB_LABEL: name}
    assert service["spec"]["publish_not_ready_addresses"] is True
    assert [port["port"] for port in service["spec"]["ports"]] == [29400]


def test_a_retry_of_the_training_task_starts_a_job_of_its_own(tmp_path: Path) -> None:
    runner = multinode_runner(tmp_path)
    first = runner.training_job(TRAIN_CALL, attempt="scheduled__2026-11-14/1").name
    assert runner.training_job(TRAIN_CALL, attempt="scheduled__2026-11-14/1").name == first
    assert runner.training_job(TRAIN_CALL, attempt="scheduled__2026-11-14/2").name != first


class RecordingServices:
    """The CoreV1Api calls the rendezvous service takes, recorded; ``existing`` holds the
    services the cluster has."""

    def __init__(self, existing: set[str]) -> None:
        self.existing, self.calls = set(existing), []  # type: list[str]

    def create_namespaced_service(self, namespace: str, body: Any) -> None:
        assert body.metadata.name not in self.existing, "409: already exists"
        self.existing.add(body.metadata.name)
        self.calls.append(f"create {namespace}/{body.metadata.name}")

    def delete_namespaced_service(self, name: str, namespace: str) -> None:
        from kubernetes.client.exceptions import ApiException

        if name not in self.existing:
            raise ApiException(status=404, reason="Not Found")
        self.existing.remove(name)
        self.calls.append(f"delete {namespace}/{name}")


def test_the_dag_task_submits_the_job_while_its_service_exists_then_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from airflow.providers.cncf.kubernetes.operators.job import KubernetesJobOperator

    runner = multinode_runner(tmp_path)
    task = SimpleNamespace(run_id="manual__2026-11-14", try_number=2)
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: {"ti": task})
    name = "job-" + str(runner.training_job(TRAIN_CALL, attempt="manual__2026-11-14/2").name)
    services = RecordingServices(existing={name})  # a killed try's leftover
    monkeypatch.setattr(KubernetesHook, "core_v1_client", services)
    submitted: list[dict[str, Any]] = []

    def execute(operator: KubernetesJobOperator, context: Any) -> None:
        assert name in services.existing, "the pods need their DNS names from the start"
        submitted.append(operator.build_job_request_obj().to_dict())
        raise RuntimeError("a node failed")

    monkeypatch.setattr(KubernetesJobOperator, "execute", execute)
    with pytest.raises(RuntimeError, match="a node failed"):
        runner_for(runner.config, "train").run(TRAIN_CALL)

    [job] = submitted
    assert job["metadata"]["name"] == name and job["spec"]["completions"] == 3
    assert services.calls == [
        f"delete recsys/{name}",
        f"create recsys/{name}",
        f"delete recsys/{name}",
    ]
    assert services.existing == set()  # removed although the job failed
