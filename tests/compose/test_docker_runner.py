"""The docker runner on a real engine, with the offline-built images: a failing stage, and a
training container killed mid-run (a preemption) that the task's retry resumes exactly."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from datetime import date
from pathlib import Path

import pytest

from components.core.config import PipelineConfig, load_config
from components.core.layout import SFT_KEY
from components.core.storage import LocalStorage
from components.orchestration.runner import DockerRunner, StageCall, StageFailed
from components.trainer.checkpoints import MODEL_FILE, PolicyRun

pytestmark = pytest.mark.compose

DS = "2026-11-03"
STAGE_LABEL = "org.adagrpo.stage"
# A tiny policy trained long enough to be killed after its first checkpoint (step 20).
TRAINING = (
    "policy.d_model=32",
    "policy.n_layer=1",
    "policy.n_head=2",
    "train.warmup_steps=2",
    "train.epochs=30",
    "train.batch_size=16",
    "train.checkpoint_every=20",
    "train.log_every=10",
)


def docker_config(root: Path, *settings: str) -> PipelineConfig:
    return load_config(
        environ={},
        overrides=[
            "runner.default=docker",
            f"runner.docker.volumes={{{root}: /data}}",
            "storage.root=/data",
            *settings,
        ],
    )


def writable_copy(shared: Path, path: Path) -> Path:
    """A copy of a shared root that the images' user (uid 10001) can write in."""
    shutil.copytree(shared, path)
    for folder, _, files in os.walk(path):
        os.chmod(folder, 0o777)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666)
    return path


def sft_run(root: Path) -> PolicyRun:
    return PolicyRun(LocalStorage(root), date.fromisoformat(DS), SFT_KEY)


def test_a_failing_stage_container_raises_with_its_output_and_is_removed(
    offline_images: None,
) -> None:
    import docker

    config = load_config(environ={}, overrides=["runner.default=docker"])
    with pytest.raises(StageFailed, match=r"(?s)'extract' exited with 2.*lookback_days"):
        DockerRunner(config, environ={}).run(
            StageCall("extract", ("--ds", DS, "--set", "extract.lookback_days=0"))
        )
    assert docker.from_env().containers.list(all=True, filters={"label": STAGE_LABEL}) == []


@pytest.mark.spark  # the dataset is built from the Spark-made tiny shop
def test_a_preempted_training_container_resumes_exactly_on_retry(
    offline_images: None, tiny_dataset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import docker

    engine = docker.from_env()
    train = StageCall("train", ("--ds", DS, "--device", "cpu"))
    preempted = writable_copy(tiny_dataset, tmp_path / "preempted")
    runner = DockerRunner(docker_config(preempted, *TRAINING), environ={})

    failures: list[BaseException] = []

    def first_attempt() -> None:
        try:
            runner.run(train)
        except StageFailed as failure:
            failures.append(failure)

    attempt = threading.Thread(target=first_attempt)
    attempt.start()
    deadline = time.monotonic() + 300
    while not any(run.checkpoint_steps() for run in sft_run(preempted).attempts()):
        assert attempt.is_alive(), "training ended before its first checkpoint: train longer"
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.05)
    for container in engine.containers.list(filters={"label": f"{STAGE_LABEL}=train"}):
        container.kill()  # what a node's preemption does to the pod's container
    attempt.join(timeout=60)
    (failure,) = failures
    assert "exited with 137" in str(failure)
    (survivor,) = sft_run(preempted).attempts()
    survived = survivor.checkpoint_steps()
    assert survived and survived[0] == 20

    caplog.set_level(logging.INFO)
    runner.run(train)  # the task's retry
    assert "resuming from" in caplog.text and f"step-{survived[-1]:09d}" in caplog.text

    straight = writable_copy(tiny_dataset, tmp_path / "straight")
    DockerRunner(docker_config(straight, *TRAINING), environ={}).run(train)
    final = sft_run(straight).checkpoint_steps()[-1]
    assert sft_run(preempted).checkpoint_steps() == sft_run(straight).checkpoint_steps()
    checkpoint = f"{sft_run(straight).checkpoint_key(final)}/{MODEL_FILE}"
    assert (preempted / checkpoint).read_bytes() == (straight / checkpoint).read_bytes()
