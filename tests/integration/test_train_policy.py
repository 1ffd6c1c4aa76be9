"""``adagrpo train`` as real processes on a tiny shop's dataset: a SIGKILLed run resumes to the
same weights as an uninterrupted one, DDP on two CPU workers, reruns, and bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from components.core.layout import SFT_KEY
from components.core.storage import LocalStorage
from components.policy.model import FORMAT as POLICY_FORMAT
from components.trainer.checkpoints import MODEL_FILE, TRAINER_FILE, PolicyRun

DS = "2026-11-03"
REPO = Path(__file__).resolve().parents[2]
RUN = f"models/policy/dt={DS}/method=nll"
# A tiny policy on the CPU, so that a run takes seconds.
SMALL = ("policy.d_model=32", "policy.n_layer=1", "policy.n_head=2", "train.warmup_steps=2")

needs_dataset = pytest.mark.spark  # the dataset is built from the Spark-made tiny shop


def fresh_root(shared: Path, path: Path) -> Path:
    """A copy of a shared root (``tiny_dataset``), to write in."""
    shutil.copytree(shared, path)
    return path


def train_args(root: Path, *settings: str) -> list[str]:
    overrides = [arg for setting in (*SMALL, *settings) for arg in ("--set", setting)]
    return ["train", "--root", str(root), "--ds", DS, "--device", "cpu", *overrides]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAGRPO")}
    return {**env, "OMP_NUM_THREADS": "1"}


def adagrpo(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components.cli", *args],
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def losses(root: Path) -> list[tuple[int, float]]:
    lines = (root / RUN / "metrics.jsonl").read_text().splitlines()
    return [(record["step"], record["loss"]) for record in map(json.loads, lines)]


def manifest(root: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((root / RUN / "_MANIFEST.json").read_text())
    return document


def committed_steps(root: Path) -> list[int]:
    return PolicyRun(LocalStorage(root), date.fromisoformat(DS), SFT_KEY).checkpoint_steps()


def attempts(root: Path) -> list[PolicyRun]:
    """The training attempts in progress beside the run (one per spec)."""
    return PolicyRun(LocalStorage(root), date.fromisoformat(DS), SFT_KEY).attempts()


def kill_after_first_checkpoint(root: Path, settings: tuple[str, ...], log_path: Path) -> None:
    """Start training and SIGKILL it as soon as its attempt commits a first checkpoint."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "components.cli", *train_args(root, *settings)],
            cwd=REPO,
            env=environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while not any(attempt.checkpoint_steps() for attempt in attempts(root)):
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "no checkpoint within 120 s"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before the kill: train longer"


@needs_dataset
def test_a_killed_run_resumes_to_the_same_weights(tiny_dataset: Path, tmp_path: Path) -> None:
    # 30 epochs of ~12 batches: long enough to be killed after the first checkpoint (step 20);
    # progress lines every 10 steps line up with the checkpoints, so the logs must match too.
    settings = (
        "train.epochs=30",
        "train.batch_size=16",
        "train.checkpoint_every=20",
        "train.log_every=10",
    )
    killed = fresh_root(tiny_dataset, tmp_path / "killed")
    kill_after_first_checkpoint(killed, settings, tmp_path / "killed.log")
    assert not (killed / RUN).exists()  # nothing is published before the run completes
    [attempt] = attempts(killed)
    survived = attempt.checkpoint_steps()
    assert survived and survived[0] == 20

    resumed = succeeded(adagrpo(*train_args(killed, *settings)))
    uninterrupted = fresh_root(tiny_dataset, tmp_path / "uninterrupted")
    straight = succeeded(adagrpo(*train_args(uninterrupted, *settings)))

    assert "resuming from" in resumed.stderr
    assert f"step-{survived[-1]:09d}" in resumed.stderr
    assert "resuming from" not in straight.stderr
    final = manifest(uninterrupted)["final_step"]
    assert manifest(killed)["final_step"] == final > survived[-1]
    assert committed_steps(killed) == committed_steps(uninterrupted)
    checkpoint = f"{RUN}/checkpoints/step-{final:09d}"
    assert (killed / checkpoint / MODEL_FILE).read_bytes() == (
        uninterrupted / checkpoint / MODEL_FILE
    ).read_bytes()
    assert losses(killed) == losses(uninterrupted)
    assert manifest(killed)["final_loss"] == manifest(uninterrupted)["final_loss"]


@needs_dataset
def test_ddp_on_two_cpu_workers(tiny_dataset: Path, tmp_path: Path) -> None:
    from components.datasets.reader import open_dataset
    from components.trainer.sequences import fold_examples

    root = fresh_root(tiny_dataset, tmp_path / "root")
    dataset = open_dataset(LocalStorage(root), date.fromisoformat(DS))
    count = len(fold_examples(dataset.split("train"), 4, dataset.max_history))
    assert count > 4
    # Two batches an epoch, the second of one sequence: one worker's shard of it is empty.
    batch_size = count - 1
    command = [
        *("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"),
        *("-m", "components.cli"),
        *train_args(root, "train.epochs=3", f"train.batch_size={batch_size}"),
        *("--set", "train.checkpoint_every=2", "--set", "train.log_every=1"),
    ]
    result = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-12000:]  # every worker's traceback

    summary = manifest(root)
    assert summary["workers"] == 2 and summary["device"] == "cpu"
    assert summary["final_step"] == 6 and summary["checkpoints"] == [2, 4, 6]
    assert {"spec.json", "metrics.jsonl", f"checkpoints/step-000000006/{MODEL_FILE}"} <= set(
        summary["files"]
    )
    logged = losses(root)
    assert [step for step, _ in logged] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(loss) and loss > 0 for _, loss in logged), logged
    assert math.isfinite(summary["final_loss"])
    trainer = load_file(root / RUN / "checkpoints" / "step-000000006" / TRAINER_FILE)
    assert {"rng.rank0.cpu", "rng.rank1.cpu"} <= trainer.keys()
    run = PolicyRun(LocalStorage(root), date.fromisoformat(DS), SFT_KEY)
    policy = run.load_policy(6)
    assert all(parameter.isfinite().all() for parameter in policy.parameters())


@needs_dataset
def test_rerun_does_nothing_and_a_changed_setting_trains_aside_then_replaces(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    settings = ("train.epochs=1", "train.batch_size=32", "train.checkpoint_every=3")
    first = succeeded(adagrpo(*train_args(root, *settings)))
    assert "already trained" not in first.stderr
    committed = (root / RUN / "_MANIFEST.json").read_bytes()

    again = succeeded(adagrpo(*train_args(root, *settings)))
    assert "already trained" in again.stderr
    assert "training nll" not in again.stderr
    assert (root / RUN / "_MANIFEST.json").read_bytes() == committed
    # Progress lines and checkpoint spacing do not change the weights: still trained.
    runtime_only = succeeded(adagrpo(*train_args(root, *settings, "train.log_every=2")))
    assert "already trained" in runtime_only.stderr
    # A training set rebuilt with the same rows (a backfill's reprocessing) trains nothing.
    succeeded(adagrpo("build-dataset", "--root", str(root), "--ds", DS, timeout=600))
    rebuilt = succeeded(adagrpo(*train_args(root, *settings)))
    assert "already trained" in rebuilt.stderr

    changed = succeeded(adagrpo(*train_args(root, *settings, "train.learning_rate=0.001")))
    assert "training aside" in changed.stderr
    assert "train.learning_rate: 0.002 -> 0.001" in changed.stderr
    assert "resuming from" not in changed.stderr
    spec = json.loads((root / RUN / "spec.json").read_text())
    assert spec["train"]["learning_rate"] == 0.001
    assert (root / RUN / "_MANIFEST.json").read_bytes() != committed
    assert manifest(root)["final_step"] == committed_steps(root)[-1]
    assert attempts(root) == []  # the finished attempt became the run

    # A run saved by an older model format (weights this version cannot load) is retrained.
    spec["policy"]["format"] = 1
    (root / RUN / "spec.json").write_text(json.dumps(spec))
    upgraded = succeeded(adagrpo(*train_args(root, *settings, "train.learning_rate=0.001")))
    assert f"policy.format: 1 -> {POLICY_FORMAT}" in upgraded.stderr


@needs_dataset
def test_a_killed_retrain_with_other_settings_leaves_the_finished_model_usable(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    root = fresh_root(tiny_dataset, tmp_path / "root")
    settings = ("train.epochs=1", "train.batch_size=32", "train.checkpoint_every=3")
    succeeded(adagrpo(*train_args(root, *settings)))
    evaluation = ("evaluate", "--root", str(root), "--ds", DS, "--set", "evaluate.valid_users=20")
    succeeded(adagrpo(*evaluation))
    finished = {p.relative_to(root): p.read_bytes() for p in (root / RUN).rglob("*") if p.is_file()}

    # A forgotten --config: other settings, killed before they finish.
    other = ("train.epochs=30", "train.batch_size=16", "train.checkpoint_every=20")
    kill_after_first_checkpoint(root, other, tmp_path / "killed.log")

    after = {p.relative_to(root): p.read_bytes() for p in (root / RUN).rglob("*") if p.is_file()}
    assert after == finished  # byte for byte, evaluation included
    assert "already evaluated" in succeeded(adagrpo(*evaluation)).stderr
    [attempt] = attempts(root)
    assert attempt.checkpoint_steps()[0] == 20


def test_train_without_a_dataset_names_build_dataset(tmp_path: Path) -> None:
    result = adagrpo(*train_args(tmp_path / "empty"), timeout=120)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "build-dataset" in result.stderr
    assert f"--ds {DS}" in result.stderr
    assert not (tmp_path / "empty" / RUN).exists()
