"""The kubernetes runner: a stage in its own pod, through the cncf-kubernetes provider's
KubernetesPodOperator, run inside the task that asked for it.

The pod runs the same CLI call as every other runner, in the stage's image, with the resolved
configuration as ``ADAGRPO__SECTION`` variables (a Spark stage reaches the cluster master that
``spark.master`` names). A GPU stage gets ``nvidia.com/gpu`` limits, the GPU nodes' selector and
tolerations; the trainer image runs torchrun with one worker per GPU it sees. Checkpoints live
in the data lake (S3, or the claim mounted at ``mount_path``), so a pod lost to preemption is
replaced by the task's retry, whose trainer resumes from the newest checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from components.core.config import PipelineConfig
from components.orchestration.runner import StageCall, config_environment

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

VOLUME_NAME = "adagrpo-data"


class KubernetesRunner:
    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    def operator(self, call: StageCall) -> KubernetesPodOperator:
        """The operator whose pod runs ``call``."""
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
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
        return KubernetesPodOperator(
            task_id=f"{call.stage}-pod",
            name=f"adagrpo-{call.stage}",
            namespace=settings.namespace,
            image=self.config.runner.image_for(call.stage),
            arguments=call.argv(),  # the image's entry point is adagrpo (or its launcher)
            env_vars=config_environment(self.config),
            env_from=env_from,
            service_account_name=settings.service_account,
            in_cluster=settings.in_cluster,
            config_file=settings.config_file,
            container_resources=k8s.V1ResourceRequirements(
                requests=dict(settings.requests), limits=limits
            ),
            node_selector=dict(settings.gpu_node_selector) if gpus else None,
            tolerations=[k8s.V1Toleration(**t) for t in settings.gpu_tolerations] if gpus else None,
            volumes=volumes,
            volume_mounts=mounts,
            labels={"app.kubernetes.io/name": "adagrpo", "adagrpo/stage": call.stage},
            startup_timeout_seconds=settings.startup_timeout_s,
            get_logs=True,
            on_finish_action="delete_pod",
            reattach_on_restart=True,  # a restarted worker follows its pod instead of a new one
        )

    def run(self, call: StageCall) -> None:
        from airflow.sdk import get_current_context

        context: Any = get_current_context()
        self.operator(call).execute(context=context)
