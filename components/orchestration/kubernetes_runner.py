"""The kubernetes runner: a stage in its own pod, through the cncf-kubernetes provider's
KubernetesPodOperator, run inside the task that asked for it.

The pod runs the same CLI call as every other runner, in the stage's image, with the resolved
configuration as ``ADAGRPO__SECTION`` variables (a Spark stage reaches the cluster master that
``spark.master`` names). A GPU stage gets ``nvidia.com/gpu`` limits, the GPU nodes' selector and
tolerations; the trainer image runs torchrun with one worker per GPU it sees. Checkpoints live
in the data lake (S3, or the claim mounted at ``mount_path``), so a pod lost to preemption is
replaced by the task's retry, whose trainer resumes from the newest checkpoint.

Training on several nodes (``train_nodes``) is an indexed Job (KubernetesJobOperator) of that
many such pods, and a headless service that gives each pod a DNS name. Every pod's torchrun
meets the others at pod 0 through c10d (``rendezvous.py``). The Job tolerates no pod failure:
static DDP cannot lose a node, so the task's retry starts a new Job, which resumes from the
newest checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from components.core.config import PipelineConfig
from components.orchestration.rendezvous import RENDEZVOUS_PORT, rendezvous_environment
from components.orchestration.runner import StageCall, config_environment

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.operators.job import KubernetesJobOperator
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import CoreV1Api
    from kubernetes.client import models as k8s

VOLUME_NAME = "adagrpo-data"
TRAIN = "train"
JOB_LABEL = "adagrpo/job"  # the multi-node Job's pods, as its headless service selects them


class KubernetesRunner:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    @property
    def nodes(self) -> int:
        return self.config.runner.kubernetes.train_nodes

    def operator(self, call: StageCall) -> KubernetesPodOperator:
        """The operator whose pod runs ``call``."""
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        return KubernetesPodOperator(
            task_id=f"{call.stage}-pod",
            name=f"adagrpo-{call.stage}",
            env_vars=config_environment(self.config),
            reattach_on_restart=True,  # a restarted worker follows its pod instead of a new one
            **self._pod_arguments(call),
        )

    def training_job(self, call: StageCall, attempt: str) -> KubernetesJobOperator:
        """The operator of the indexed Job that trains ``call`` on ``train_nodes`` pods.
        ``attempt`` (the task's run and try) names the Job, so that a retry starts a new one."""
        from airflow.providers.cncf.kubernetes.operators.job import KubernetesJobOperator
        from kubernetes.client import models as k8s

        base = job_name(call, attempt)
        name = submitted_name(base)  # the Job's, its pods' hostname prefix and the service's
        endpoint = f"{name}-0.{name}:{RENDEZVOUS_PORT}"  # pod 0, by its hostname in the service
        settings = self.config.runner.kubernetes
        arguments = self._pod_arguments(call)
        arguments["labels"] = {**arguments["labels"], JOB_LABEL: name}
        return KubernetesJobOperator(
            task_id=f"{call.stage}-job",
            name=base,
            random_name_suffix=False,  # the pods' hostnames, hence the endpoint, follow the name
            env_vars={
                **config_environment(self.config),
                **rendezvous_environment(self.nodes, endpoint, run_id=name),
            },
            full_pod_spec=k8s.V1Pod(spec=k8s.V1PodSpec(containers=[], subdomain=name)),
            completion_mode="Indexed",
            completions=self.nodes,
            parallelism=self.nodes,  # every node at once: the rendezvous waits for all
            backoff_limit=0,
            ttl_seconds_after_finished=settings.finished_job_ttl_s,
            wait_until_job_complete=True,
            **arguments,
        )

    def rendezvous_service(self, job: KubernetesJobOperator) -> k8s.V1Service:
        """The headless service that gives the Job's pods their DNS names (pod 0's included)
        before they are ready: the rendezvous runs before any readiness."""
        from kubernetes.client import models as k8s

        name = submitted_name(str(job.name))
        return k8s.V1Service(
            api_version="v1",
            kind="Service",
            metadata=k8s.V1ObjectMeta(
                name=name, namespace=job.namespace, labels={**job.labels, JOB_LABEL: name}
            ),
            spec=k8s.V1ServiceSpec(
                cluster_ip="None",
                selector={JOB_LABEL: name},
                publish_not_ready_addresses=True,
                ports=[k8s.V1ServicePort(name="rendezvous", port=RENDEZVOUS_PORT)],
            ),
        )

    def run(self, call: StageCall) -> None:
        from airflow.sdk import get_current_context

        context: Any = get_current_context()
        if call.stage != TRAIN or self.nodes == 1:
            self.operator(call).execute(context=context)
            return
        task = context["ti"]
        job = self.training_job(call, attempt=f"{task.run_id}/{task.try_number}")
        with serving(job.hook.core_v1_client, self.rendezvous_service(job)):
            job.execute(context=context)

    def _pod_arguments(self, call: StageCall) -> dict[str, Any]:
        """What a stage's pod is, whether alone or one of a Job's."""
        from kubernetes.client import models as k8s

        settings = self.config.runner.kubernetes
        gpus = settings.gpus.get(call.stage)
        limits = {"nvidia.com/gpu": str(gpus)} if gpus else None
        volumes, mounts = [], []
        if settings.volume_claim is not None:
            claim = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=settings.volume_claim)
            volumes.append(k8s.V1Volume(name=VOLUME_NAME, persistent_volume_claim=claim))
            mounts.append(k8s.V1VolumeMount(name=VOLUME_NAME, mount_path=settings.mount_path))
        env_from = []
        if settings.environment_secret is not None:
            secret = k8s.V1SecretEnvSource(name=settings.environment_secret)
            env_from.append(k8s.V1EnvFromSource(secret_ref=secret))
        return {
            "namespace": settings.namespace,
            "image": self.config.runner.image_for(call.stage),
            "arguments": call.argv(),  # the image's entry point is adagrpo (or its launcher)
            "env_from": env_from,
            "service_account_name": settings.service_account,
            "in_cluster": settings.in_cluster,
            "config_file": settings.config_file,
            "container_resources": k8s.V1ResourceRequirements(
                requests=dict(settings.requests), limits=limits
            ),
            "node_selector": dict(settings.gpu_node_selector) if gpus else None,
            "tolerations": [k8s.V1Toleration(**t) for t in settings.gpu_tolerations]
            if gpus
            else None,
            "volumes": volumes,
            "volume_mounts": mounts,
            "labels": {"app.kubernetes.io/name": "adagrpo", "adagrpo/stage": call.stage},
            "startup_timeout_seconds": settings.startup_timeout_s,
            "get_logs": True,
            "on_finish_action": "delete_pod",
        }


def job_name(call: StageCall, attempt: str) -> str:
    """The operator's name for the Job of ``call`` in ``attempt``: short enough that its pods'
    hostnames (the submitted name, a dash and the index) stay within 63 characters."""
    digest = hashlib.sha256("\0".join([attempt, *call.argv()]).encode()).hexdigest()[:12]
    return f"adagrpo-{call.stage}-{digest}"


def submitted_name(base: str) -> str:
    """The name KubernetesJobOperator gives the Job it submits for the operator name ``base``."""
    from airflow.providers.cncf.kubernetes.operators.job import JOB_NAME_PREFIX

    return f"{JOB_NAME_PREFIX}{base}"


@contextlib.contextmanager
def serving(api: CoreV1Api, service: k8s.V1Service) -> Iterator[None]:
    """``service`` exists for the duration: created (or replaced, if a killed task left it),
    then deleted."""
    name, namespace = service.metadata.name, service.metadata.namespace
    _delete_service(api, name, namespace)
    api.create_namespaced_service(namespace, service)
    try:
        yield
    finally:
        _delete_service(api, name, namespace)


def _delete_service(api: CoreV1Api, name: str, namespace: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        api.delete_namespaced_service(name, namespace)
    except ApiException as error:
        if error.status != 404:  # absent already: nothing to delete
            raise
