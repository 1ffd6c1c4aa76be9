"""The stage runner and the DAG steps built on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from components.core.config import ConfigError, PipelineConfig, load_config
from components.core.errors import EXIT_BAD_INPUT, EXIT_TRANSIENT
from components.orchestration import steps
from components.orchestration.runner import (
    DockerRunner,
    StageCall,
    StageFailed,
    StageRejectedInput,
    SubprocessRunner,
    config_environment,
    decoded_lines,
    fail_unless_zero,
    runner_for,
)


def test_subprocess_runner_runs_the_cli(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    SubprocessRunner(sys.executable).run(StageCall("config", ("--set", "simulate.seed=11")))
    assert "seed: 11" in caplog.text


def test_a_stage_refusing_its_input_raises_with_its_output() -> None:
    with pytest.raises(StageRejectedInput, match=r"(?s)'extract' exited with 2.*lookback_days"):
        SubprocessRunner(sys.executable).run(
            StageCall("extract", ("--ds", "2026-11-03", "--set", "extract.lookback_days=0"))
        )


@pytest.mark.parametrize("exit_code", [1, EXIT_TRANSIENT, 137])
def test_other_failures_are_not_taken_for_bad_input(exit_code: int) -> None:
    with pytest.raises(StageFailed, match=f"exited with {exit_code}:\nlast line") as failure:
        fail_unless_zero("train", exit_code, ["last line"])
    assert failure.value.exit_code == exit_code
    assert not isinstance(failure.value, StageRejectedInput)


@pytest.mark.parametrize(
    ("stage", "args"),
    [
        ("simulate", ("--ds", "2026-11-03", "--lookback-days", "3", "--scale", "small")),
        ("extract", ("--ds", "2026-11-03", "--lookback-days", "3")),
        ("validate", ("--ds", "2026-11-03", "--lookback-days", "3")),
        ("features", ("--ds", "2026-11-03")),
        ("build-dataset", ("--ds", "2026-11-03")),
        ("train-ranker", ("--ds", "2026-11-03")),
    ],
)
def test_stage_calls_carry_logical_date_and_params(stage: str, args: tuple[str, ...]) -> None:
    params = {"lookback_days": 3, "scale": "small"}
    assert steps.stage_call(stage, "2026-11-03", params) == StageCall(stage, args)


def test_training_calls_name_their_method() -> None:
    call = steps.stage_call("train", "2026-11-03", {"lookback_days": 3}, method="adagrpo")
    assert call == StageCall("train", ("--ds", "2026-11-03", "--method", "adagrpo"))


def fake_interpreter(folder: Path, exit_code: int) -> Path:
    """An interpreter for the subprocess runner that records its arguments and exits."""
    script = folder / "python"
    script.write_text(
        f'#!/bin/sh\necho "$@" > {folder / "argv"}\necho "the stage\'s last line"\n'
        f"exit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_run_stage_uses_the_configured_runner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAGRPO__RUNNER__PYTHON", str(fake_interpreter(tmp_path, 0)))
    steps.run_stage("extract", "2026-11-03", {"lookback_days": 2})
    argv = (tmp_path / "argv").read_text().split()
    assert argv == ["-m", "components.cli", "extract", "--ds", "2026-11-03", "--lookback-days", "2"]


def test_a_task_whose_stage_refused_its_input_fails_without_retries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAGRPO__RUNNER__PYTHON", str(fake_interpreter(tmp_path, EXIT_BAD_INPUT)))
    with pytest.raises(AirflowFailException, match="the stage's last line"):
        steps.run_stage("features", "2026-11-03", {"lookback_days": 2})


def test_a_task_whose_stage_may_heal_is_left_to_its_retries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADAGRPO__RUNNER__PYTHON", str(fake_interpreter(tmp_path, EXIT_TRANSIENT)))
    with pytest.raises(StageFailed) as failure:
        steps.run_stage("features", "2026-11-03", {"lookback_days": 2})
    assert failure.value.exit_code == EXIT_TRANSIENT  # the runner's failure, not a fail-fast one


def test_missing_raw_partitions_lists_the_window(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("ADAGRPO__STORAGE__ROOT", str(tmp_path))
    missing = steps.missing_raw_partitions("2026-11-03", {"lookback_days": 2})
    assert missing == [
        "raw/exposures/dt=2026-11-02",
        "raw/exposures/dt=2026-11-03",
        "raw/catalog/dt=2026-11-03",
    ]


def compose_like_config(**runner: object) -> PipelineConfig:
    return load_config(
        environ={},
        overrides=[
            "storage.root=/data/lake",
            "runner.default=docker",
            "runner.docker.network=adagrpo_default",
            "runner.docker.volumes={adagrpo_data: /data}",
            *(f"runner.{key}={value}" for key, value in runner.items()),
        ],
    )


def test_docker_runner_runs_each_stage_in_its_image_with_the_shared_volume() -> None:
    config = compose_like_config()
    runner = DockerRunner(config, environ={"AWS_ACCESS_KEY_ID": "key", "HOME": "/root"})
    extract = runner.container_spec(StageCall("extract", ("--ds", "2026-11-03")))
    assert extract["image"] == "adagrpo/pipeline:local"
    assert extract["command"] == ["extract", "--ds", "2026-11-03"]
    assert extract["network"] == "adagrpo_default"
    assert extract["volumes"] == {"adagrpo_data": {"bind": "/data", "mode": "rw"}}
    assert extract["environment"]["AWS_ACCESS_KEY_ID"] == "key"
    assert "HOME" not in extract["environment"]
    assert "device_requests" not in extract
    assert runner.container_spec(StageCall("train"))["image"] == "adagrpo/trainer:local"


def test_the_container_sees_exactly_the_configuration_the_task_resolved() -> None:
    config = compose_like_config()
    assert load_config(environ=config_environment(config)) == config


def test_gpu_stages_get_every_gpu_of_the_host() -> None:
    runner = DockerRunner(compose_like_config(**{"docker.gpu_stages": "[train]"}), environ={})
    (request,) = runner.container_spec(StageCall("train"))["device_requests"]
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]


def test_each_stage_gets_its_configured_runner() -> None:
    config = load_config(environ={}, overrides=["runner.stages={train: docker}"])
    assert isinstance(runner_for(config, "train"), DockerRunner)
    assert isinstance(runner_for(config, "extract"), SubprocessRunner)


def test_a_runner_for_an_unknown_stage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown stages \['trian'\]"):
        load_config(environ={}, overrides=["runner.stages={trian: docker}"])


def test_output_lines_are_rebuilt_from_chunks_that_end_anywhere() -> None:
    chunks = [b"epoch 1\nstep", b" 2\n\nlos", b"s 0.5"]
    assert list(decoded_lines(chunks)) == ["epoch 1", "step 2", "", "loss 0.5"]
