"""The DAG file: imports cleanly, has the intended graph, and validates its trigger form."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.stages import TASKS

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


def test_every_edge_joins_a_publisher_to_a_reader_of_what_it_published(dag) -> None:  # type: ignore[no-untyped-def]
    specs = {spec.task_id: spec for spec in TASKS}
    assert {task.task_id for task in dag.tasks} == set(specs)
    for task in dag.tasks:
        for downstream in task.downstream_task_ids:
            shared = set(specs[task.task_id].publishes) & set(specs[downstream].reads)
            assert shared, f"{task.task_id} -> {downstream} passes nothing"


def test_nothing_is_read_before_a_task_upstream_publishes_it(dag) -> None:  # type: ignore[no-untyped-def]
    specs = {spec.task_id: spec for spec in TASKS}
    for task in dag.tasks:
        upstream = task.get_flat_relative_ids(upstream=True)
        published = {name for task_id in upstream for name in specs[task_id].publishes}
        unmet = set(specs[task.task_id].reads) - published
        if task.task_id == "simulate_raw_logs":  # the first task reads nothing
            assert not unmet
        else:
            assert not unmet, f"{task.task_id} reads {unmet} that nothing upstream publishes"


@pytest.mark.parametrize(
    ("task_id", "after"),
    [
        ("extract_exposures", {"wait_for_raw_logs"}),
        ("materialize_features", {"validate_exposures"}),
        ("build_dataset", {"validate_exposures", "assign_semantic_ids"}),
        ("train_ranker", {"materialize_features", "build_dataset"}),  # blind to held-out positives
        ("train_adagrpo", {"evaluate_sft", "train_ranker"}),  # from SFT's best, ranker-rewarded
        ("select_candidate", {"evaluate_sft", "evaluate_adagrpo"}),
        ("register_model", {"bless_candidate"}),
    ],
)
def test_each_task_runs_after_what_it_needs(dag, task_id: str, after: set[str]) -> None:  # type: ignore[no-untyped-def]
    assert after <= dag.get_task(task_id).get_flat_relative_ids(upstream=True)


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
