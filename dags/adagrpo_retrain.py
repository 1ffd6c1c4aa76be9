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

Every task calls a pipeline stage through the runner configured in `$ADAGRPO_CONFIG`; the tasks,
their edges and their Assets come from the stage manifest (`components/stages.py`): a task follows
every task that publishes what it reads. Transient failures and bugs are retried with
exponential backoff; bad data and bad settings never (validation, and a stage that refuses its
input, fail their task at once); training takes a slot of the `adagrpo_gpu` pool; a run still
going after 12 hours fails and raises the alert. The curated exposures, the training sets, the
policy and the registered model are Assets that downstream DAGs can be scheduled on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, task

from components.orchestration import steps
from components.orchestration.alerts import run_failed
from components.orchestration.assets import ASSETS
from components.stages import SENSOR, TASKS, Task, dag_edges

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
    @task.sensor(
        task_id=SENSOR,
        poke_interval=300,
        timeout=6 * 3600,
        mode="reschedule",
        trigger_rule="none_failed",  # runs when the simulation is skipped
    )
    def wait_for_raw_logs(**context: Any) -> PokeReturnValue:
        """Waits (rescheduled, no worker held) until every raw partition of the window landed."""
        missing = steps.missing_raw_partitions(context["ds"], context["params"])
        return PokeReturnValue(is_done=not missing, xcom_value=missing)

    tasks = {
        spec.task_id: wait_for_raw_logs() if spec.stage is None else stage_task(spec)
        for spec in TASKS
    }
    for upstream, downstream in sorted(dag_edges()):
        tasks[upstream] >> tasks[downstream]


# Stages whose task runs only when a condition holds, and what its skip says.
CONDITIONS = {
    "simulate": (lambda context: steps.simulator_enabled(), "raw logs land upstream"),
    "register": (
        lambda context: steps.registers(context["dag_run"].run_type, context["params"]),
        "a backfill registers nothing (Param backfill_registry)",
    ),
}


def stage_task(spec: Task) -> Any:
    """The task of ``spec``: its stage through the configured runner, with the pool, timeout,
    retries and Asset the manifest gives the stage."""
    stage = spec.stage
    assert stage is not None
    options: dict[str, Any] = {"task_id": spec.task_id, "doc_md": spec.doc}
    if stage.asset:
        options["outlets"] = [ASSETS[stage.asset]]
    if not stage.retried:
        options["retries"] = 0  # bad data does not heal by retrying
    if stage.gpu:
        options["pool"] = GPU_POOL
    if stage.image == "trainer":
        options["execution_timeout"] = TRAINING_TIMEOUT

    def run(**context: Any) -> None:
        steps.run_stage(stage.name, context["ds"], context["params"], method=spec.method)

    runnable = task(**options)(run)
    if stage.name in CONDITIONS:
        condition, message = CONDITIONS[stage.name]
        runnable = task.run_if(condition, skip_message=message)(runnable)
    return runnable()


adagrpo_retrain()
