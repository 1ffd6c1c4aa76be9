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
* **Backfill**: trigger a backfill over a date range from the UI, CLI or REST API, oldest day
  first; each day's outputs are keyed by its logical date, so a rerun overwrites exactly that
  day, with the same bytes. The Params `codebook` and `backfill_registry` say what a past day
  does with the semantic-ID codebook and the model registry.
* **Manual run**: the trigger form below sets the Params (validated by JSON schema).

Every task calls a pipeline stage through the runner configured in `$ADAGRPO_CONFIG`. Transient
failures are retried with exponential backoff; bad data and bad settings never (validation, and a
stage that refuses its input, fail their task at once); training takes a slot of the
`adagrpo_gpu` pool; a run still going after 12 hours fails and raises the alert.
The curated exposures, the training sets, the policy and the registered model are Assets that
downstream DAGs can be scheduled on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, task

from components.orchestration import steps
from components.orchestration.alerts import run_failed
from components.orchestration.assets import (
    CURATED_EXPOSURES,
    POLICY,
    REGISTERED_MODEL,
    TRAINING_SETS,
)

GPU_POOL = "adagrpo_gpu"  # training slots: as many as the GPU nodes take jobs at once
# Bounds on a hung task, well above the demo's and a production day's durations.
DATA_TIMEOUT = timedelta(hours=2)
TRAINING_TIMEOUT = timedelta(hours=8)

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
    "codebook": Param(
        "keep",
        type="string",
        enum=["keep", "refit"],
        title="Semantic-ID codebook",
        description="keep: the refit policy decides, on the newest mapped day only; a past day "
        "(a backfill or rerun) is mapped with the codebook version in use on it and never "
        "refitted, so its SIDs come out the same. refit: fit a new version on this day (the "
        "newest mapped day only; on a past day the task fails and says so).",
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
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "execution_timeout": DATA_TIMEOUT,
    },
    # The deadline: a run still going after 12 hours fails and alerts. (Airflow's DeadlineAlert
    # alerts without failing it, but breaks `airflow dags test` in 3.3.2: apache/airflow#73428.)
    dagrun_timeout=timedelta(hours=12),
    on_failure_callback=run_failed,
    doc_md=__doc__,
    tags=["adagrpo", "retraining"],
)
def adagrpo_retrain() -> None:
    @task.run_if(lambda context: steps.simulator_enabled(), skip_message="raw logs land upstream")
    @task
    def simulate_raw_logs(**context: Any) -> None:
        """Embedded runs only: the simulated shop's raw exposure logs for the lookback window."""
        steps.run_stage("simulate", context["ds"], context["params"])

    @task.sensor(poke_interval=300, timeout=6 * 3600, mode="reschedule", trigger_rule="none_failed")
    def wait_for_raw_logs(**context: Any) -> PokeReturnValue:
        """Waits (rescheduled, no worker held) until every raw partition of the window landed."""
        missing = steps.missing_raw_partitions(context["ds"], context["params"])
        return PokeReturnValue(is_done=not missing, xcom_value=missing)

    @task(outlets=[CURATED_EXPOSURES])
    def extract_exposures(**context: Any) -> None:
        """Spark: raw logs of the window -> curated, deduplicated exposure partitions."""
        steps.run_stage("extract", context["ds"], context["params"])

    @task(retries=0)  # bad data does not heal by retrying
    def validate_exposures(**context: Any) -> None:
        """Great Expectations on each curated partition; a failing one stops the run here."""
        steps.run_stage("validate", context["ds"], context["params"])

    @task
    def materialize_features(**context: Any) -> None:
        """Spark feature snapshots, registered with Feast and materialized online."""
        steps.run_stage("features", context["ds"], context["params"])

    @task
    def train_ranker(**context: Any) -> None:
        """The reward model: P(click) from Feast's point-in-time features."""
        steps.run_stage("train-ranker", context["ds"], context["params"])

    @task
    def assign_semantic_ids(**context: Any) -> None:
        """Semantic IDs for every item: the codebook's version kept, new items assigned."""
        steps.run_stage("semantic-ids", context["ds"], context["params"])

    @task(outlets=[TRAINING_SETS])
    def build_dataset(**context: Any) -> None:
        """Per-user semantic-ID sequences, split leave-one-out into train/valid/test."""
        steps.run_stage("build-dataset", context["ds"], context["params"])

    @task(pool=GPU_POOL, execution_timeout=TRAINING_TIMEOUT)
    def train_sft(**context: Any) -> None:
        """The training container: the supervised (NLL) policy, resumable checkpoints."""
        steps.run_stage("train", context["ds"], context["params"], method="nll")

    @task(execution_timeout=TRAINING_TIMEOUT)
    def evaluate_sft(**context: Any) -> None:
        """Every SFT checkpoint decoded on validation and test; the best chosen on validation."""
        steps.run_stage("evaluate", context["ds"], context["params"], method="nll")

    @task(pool=GPU_POOL, execution_timeout=TRAINING_TIMEOUT)
    def train_adagrpo(**context: Any) -> None:
        """The training container: AdaGRPO from the best SFT checkpoint, ranker as reward."""
        steps.run_stage("train", context["ds"], context["params"], method="adagrpo")

    @task(execution_timeout=TRAINING_TIMEOUT)
    def evaluate_adagrpo(**context: Any) -> None:
        """Every AdaGRPO checkpoint decoded on validation and test."""
        steps.run_stage("evaluate", context["ds"], context["params"], method="adagrpo")

    @task(outlets=[POLICY])
    def select_candidate(**context: Any) -> None:
        """The day's candidate: the best checkpoint of either run on validation."""
        steps.run_stage("select", context["ds"], context["params"])

    @task
    def bless_candidate(**context: Any) -> None:
        """The blessing gate: the candidate against the registry's champion and the floors."""
        steps.run_stage("bless", context["ds"], context["params"])

    @task.run_if(
        lambda context: steps.registers(context["dag_run"].run_type, context["params"]),
        skip_message="a backfill registers nothing (Param backfill_registry)",
    )
    @task(outlets=[REGISTERED_MODEL])
    def register_model(**context: Any) -> None:
        """A blessed candidate becomes a registry version and the challenger of the A/B test."""
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
