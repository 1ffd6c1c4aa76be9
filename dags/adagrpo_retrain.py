"""
# AdaGRPO daily retraining

Turns the shop's exposure logs into a new generative-recommendation model, one logical day at a
time: raw logs -> curated exposures (Spark) -> validated partition (Great Expectations) ->
semantic IDs -> semantic-ID training sets -> supervised policy (SFT), and Feast features ->
reward model (ranker, kept blind to the training sets' held-out positives) -> AdaGRPO from the
SFT policy's best checkpoint, rewarded by the ranker (the training container; GPU nodes in
production) -> evaluation of every checkpoint of both -> the best on validation selected,
blessed against the registry's champion and registered as the challenger.

* **Scheduled**: daily, for the previous day; catchup is off.
* **Backfill**: trigger a backfill over a date range from the UI, CLI or REST API; each day's
  outputs are keyed by its logical date, so a rerun overwrites exactly that day.
* **Manual run**: the trigger form below sets the Params (validated by JSON schema).

Every task calls a pipeline stage through the runner configured in `$ADAGRPO_CONFIG`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, task

from components.orchestration import steps

PARAMS = {
    "lookback_days": Param(
        2,
        type="integer",
        minimum=1,
        maximum=30,
        title="Lookback days",
        description="Days re-extracted and re-validated up to the logical date (late events).",
    ),
    "scale": Param(
        "tiny",
        type="string",
        enum=["tiny", "small", "demo", "large"],
        title="Simulated shop scale",
        description="Size of the simulated shop; used only by embedded runs.",
    ),
    "backfill_registry": Param(
        "skip",
        type="string",
        enum=["skip", "register"],
        title="Registry on backfill",
        description="What a backfill run does with the model registry: skip (select and bless "
        "the day's candidate, register nothing) or register (a blessed past day becomes a "
        "version and the challenger, as a daily run's would).",
    ),
}


@dag(
    dag_id="adagrpo_retrain",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    doc_md=__doc__,
    tags=["adagrpo", "retraining"],
)
def adagrpo_retrain() -> None:
    @task.run_if(lambda context: steps.simulator_enabled(), skip_message="raw logs land upstream")
    @task
    def simulate_raw_logs(**context: Any) -> None:
        steps.run_stage("simulate", context["ds"], context["params"])

    @task.sensor(poke_interval=300, timeout=6 * 3600, mode="reschedule", trigger_rule="none_failed")
    def wait_for_raw_logs(**context: Any) -> PokeReturnValue:
        missing = steps.missing_raw_partitions(context["ds"], context["params"])
        return PokeReturnValue(is_done=not missing, xcom_value=missing)

    @task
    def extract_exposures(**context: Any) -> None:
        steps.run_stage("extract", context["ds"], context["params"])

    @task(retries=0)  # bad data does not heal by retrying
    def validate_exposures(**context: Any) -> None:
        steps.run_stage("validate", context["ds"], context["params"])

    @task
    def materialize_features(**context: Any) -> None:
        steps.run_stage("features", context["ds"], context["params"])

    @task
    def train_ranker(**context: Any) -> None:
        steps.run_stage("train-ranker", context["ds"], context["params"])

    @task
    def assign_semantic_ids(**context: Any) -> None:
        steps.run_stage("semantic-ids", context["ds"], context["params"])

    @task
    def build_dataset(**context: Any) -> None:
        steps.run_stage("build-dataset", context["ds"], context["params"])

    @task
    def train_sft(**context: Any) -> None:
        steps.run_stage("train", context["ds"], context["params"], method="nll")

    @task
    def evaluate_sft(**context: Any) -> None:
        steps.run_stage("evaluate", context["ds"], context["params"], method="nll")

    @task
    def train_adagrpo(**context: Any) -> None:
        steps.run_stage("train", context["ds"], context["params"], method="adagrpo")

    @task
    def evaluate_adagrpo(**context: Any) -> None:
        steps.run_stage("evaluate", context["ds"], context["params"], method="adagrpo")

    @task
    def select_candidate(**context: Any) -> None:
        steps.run_stage("select", context["ds"], context["params"])

    @task
    def bless_candidate(**context: Any) -> None:
        steps.run_stage("bless", context["ds"], context["params"])

    @task.run_if(
        lambda context: steps.registers(context["dag_run"].run_type, context["params"]),
        skip_message="a backfill registers nothing (Param backfill_registry)",
    )
    @task
    def register_model(**context: Any) -> None:
        steps.run_stage("register", context["ds"], context["params"])

    validated = validate_exposures()
    simulate_raw_logs() >> wait_for_raw_logs() >> extract_exposures() >> validated
    dataset = validated >> assign_semantic_ids() >> build_dataset()
    # The ranker learns nothing from the training set's held-out positives: it needs the set.
    ranker = [validated >> materialize_features(), dataset] >> train_ranker()
    sft = dataset >> train_sft() >> evaluate_sft()
    adagrpo = [sft, ranker] >> train_adagrpo() >> evaluate_adagrpo()
    [sft, adagrpo] >> select_candidate() >> bless_candidate() >> register_model()


adagrpo_retrain()
