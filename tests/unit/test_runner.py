"""The stage runner and the DAG steps built on it."""

from __future__ import annotations

import sys

import pytest

from components.orchestration import steps
from components.orchestration.runner import StageCall, StageFailed, SubprocessRunner


def test_subprocess_runner_runs_the_cli(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    SubprocessRunner(sys.executable).run(StageCall("config", ("--set", "simulate.seed=11")))
    assert "seed: 11" in caplog.text


def test_failed_stage_raises_with_its_output() -> None:
    with pytest.raises(StageFailed, match=r"(?s)'extract' exited with 2.*lookback_days"):
        SubprocessRunner(sys.executable).run(
            StageCall("extract", ("--ds", "2026-11-03", "--set", "extract.lookback_days=0"))
        )


class RecordingRunner:
    def __init__(self) -> None:
        self.calls: list[StageCall] = []

    def run(self, call: StageCall) -> None:
        self.calls.append(call)


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


def test_run_stage_uses_the_configured_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = RecordingRunner()
    monkeypatch.setattr(steps, "runner_for", lambda config: runner)
    steps.run_stage("extract", "2026-11-03", {"lookback_days": 2})
    assert [call.stage for call in runner.calls] == ["extract"]


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
