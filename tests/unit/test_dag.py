"""The DAG file: imports cleanly, has the intended graph, and validates its trigger form."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dag(airflow_home: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag.dags["adagrpo_retrain"]


def test_schedule_and_catchup(dag) -> None:  # type: ignore[no-untyped-def]
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_task_graph(dag) -> None:  # type: ignore[no-untyped-def]
    edges = {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}
    assert edges == {
        "simulate_raw_logs": ["wait_for_raw_logs"],
        "wait_for_raw_logs": ["extract_exposures"],
        "extract_exposures": ["validate_exposures"],
        "validate_exposures": ["assign_semantic_ids", "materialize_features"],
        "materialize_features": ["train_ranker"],
        "train_ranker": ["train_adagrpo"],
        "assign_semantic_ids": ["build_dataset"],
        "build_dataset": ["train_ranker", "train_sft"],
        "train_sft": ["evaluate_sft"],
        "evaluate_sft": ["select_candidate", "train_adagrpo"],
        "train_adagrpo": ["evaluate_adagrpo"],
        "evaluate_adagrpo": ["select_candidate"],
        "select_candidate": ["bless_candidate"],
        "bless_candidate": ["register_model"],
        "register_model": [],
    }


def test_sensor_runs_when_simulation_is_skipped(dag) -> None:  # type: ignore[no-untyped-def]
    assert dag.get_task("wait_for_raw_logs").trigger_rule == "none_failed"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("lookback_days", 0),
        ("lookback_days", 31),
        ("lookback_days", "2"),
        ("scale", "huge"),
        ("codebook", "drop"),
        ("backfill_registry", "always"),
    ],
)
def test_trigger_form_rejects_bad_params(dag, name: str, value: object) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dag.params)
    with pytest.raises(ParamValidationError):
        params[name] = value  # what the trigger form submits
        params.validate()


def test_trigger_form_defaults_are_valid(dag) -> None:  # type: ignore[no-untyped-def]
    assert dag.params.validate() == {
        "lookback_days": 2, "scale": "tiny", "codebook": "keep", "backfill_registry": "skip"
    }  # fmt: skip


@pytest.mark.parametrize(("codebook", "args"), [("keep", ()), ("refit", ("--refit",))])
def test_the_codebook_param_asks_the_semantic_ids_stage_for_a_refit(
    codebook: str, args: tuple[str, ...]
) -> None:
    from components.orchestration.steps import stage_call

    call = stage_call("semantic-ids", "2026-11-14", {"codebook": codebook})
    assert call.args == ("--ds", "2026-11-14", *args)


@pytest.mark.parametrize(
    ("run_type", "backfill_registry", "registers"),
    [("scheduled", "skip", True), ("manual", "skip", True), ("backfill", "skip", False),
     ("backfill", "register", True)],
)  # fmt: skip
def test_only_a_backfill_asked_to_writes_to_the_registry(
    run_type: str, backfill_registry: str, registers: bool
) -> None:
    from components.orchestration.steps import registers as writes

    assert writes(run_type, {"backfill_registry": backfill_registry}) is registers


def test_assets_mark_what_downstream_dags_can_wait_for(dag) -> None:  # type: ignore[no-untyped-def]
    outlets = {
        task.task_id: [asset.name for asset in task.outlets] for task in dag.tasks if task.outlets
    }
    assert outlets == {
        "extract_exposures": ["adagrpo_curated_exposures"],
        "build_dataset": ["adagrpo_training_sets"],
        "select_candidate": ["adagrpo_policy"],
        "register_model": ["adagrpo_registered_model"],
    }


def test_transient_failures_back_off_and_bad_data_fails_at_once(dag) -> None:  # type: ignore[no-untyped-def]
    extract = dag.get_task("extract_exposures")
    assert extract.retries == 3 and extract.retry_exponential_backoff
    assert dag.get_task("validate_exposures").retries == 0


def test_training_takes_a_gpu_slot_and_every_task_has_a_timeout(dag) -> None:  # type: ignore[no-untyped-def]
    pooled = sorted(task.task_id for task in dag.tasks if task.pool == "adagrpo_gpu")
    assert pooled == ["train_adagrpo", "train_sft"]
    assert all(task.execution_timeout is not None for task in dag.tasks)


def test_every_task_is_documented_for_the_ui(dag) -> None:  # type: ignore[no-untyped-def]
    assert [task.task_id for task in dag.tasks if not task.doc_md] == []


def test_a_late_run_fails_and_raises_the_alert(  # type: ignore[no-untyped-def]
    dag, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    assert dag.dagrun_timeout == timedelta(hours=12)
    run = SimpleNamespace(run_id="scheduled__2026-11-14", logical_date="2026-11-14")
    dag.on_failure_callback({"dag_run": run, "reason": "timed_out"})
    assert "scheduled__2026-11-14 (logical date 2026-11-14) failed: timed_out" in caplog.text
