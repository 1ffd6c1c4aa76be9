"""The stage manifest: what each pipeline stage is, said once.

A stage is a command (``adagrpo <name>``), a package under ``components/`` (its ``cli.py`` and
``stage.py``), a section of the configuration, an image, a GPU need, the datasets it reads and
the ones it publishes (``core/layout.py`` names), the Airflow Asset it updates and whether a
failure is worth retrying. The CLI's subcommands, the configuration's stage names, the runners'
images and GPU limits, the DAG's tasks, edges and Assets, and the "run X first" hint of a
missing input are all derived from this table.

The DAG runs some stages more than once (``train`` and ``evaluate`` per method) and waits for
the raw logs with a sensor: ``TASKS`` lists its tasks, each a stage (and method) or the sensor,
and every edge follows from one task publishing what another reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from components.core import layout
from components.core.methods import SFT, training_method

Image = Literal["pipeline", "trainer"]

RAW_LOGS = (layout.RAW_EXPOSURES, layout.RAW_CATALOG)
VALIDATED = (layout.CURATED_EXPOSURES, layout.QUALITY_EXPOSURES)


@dataclass(frozen=True)
class Stage:
    name: str  # the command, `adagrpo <name>`; the key of runner.* settings
    package: str  # components/<package>/ holds its cli.py and stage.py
    section: str | None  # its section of the configuration, if it has one
    reads: tuple[str, ...]  # datasets it reads (core/layout.py)
    publishes: tuple[str, ...]  # datasets it publishes
    image: Image = "pipeline"
    gpu: bool = False  # its pod asks for GPUs (runner.kubernetes.gpus)
    retried: bool = True  # False: its failures are bad data, and retrying cannot help
    windowed: bool = False  # it rewrites every day of the lookback window (--lookback-days)
    asset: str | None = None  # the Airflow Asset its task updates, for DAGs downstream


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("simulate", "simulate", "simulate", (), (*RAW_LOGS, layout.TRUTH), windowed=True),
        Stage(
            "extract", "extract", "extract", RAW_LOGS, (layout.CURATED_EXPOSURES,),
            windowed=True, asset="adagrpo_curated_exposures",
        ),
        Stage(
            "validate", "validate", "validation", (layout.CURATED_EXPOSURES,),
            (layout.QUALITY_EXPOSURES,), retried=False, windowed=True,
        ),
        Stage(
            "semantic-ids", "semantic_ids", "semantic_ids", (layout.RAW_CATALOG, *VALIDATED),
            (layout.SIDS,),
        ),
        Stage("features", "features", "features", VALIDATED, (layout.FEATURES,)),
        Stage(
            "build-dataset", "datasets", "datasets", (*VALIDATED, layout.SIDS),
            (layout.DATASETS,), asset="adagrpo_training_sets",
        ),
        # The ranker reads the training set to stay blind to its held-out positives.
        Stage(
            "train-ranker", "ranker", "ranker", (layout.FEATURES, layout.DATASETS),
            (layout.MODELS_RANKER,),
        ),
        Stage(
            "train", "trainer", "train", (layout.DATASETS, layout.MODELS_RANKER),
            (layout.MODELS_POLICY,), image="trainer", gpu=True,
        ),
        Stage(
            "evaluate", "evaluate", "evaluate", (layout.DATASETS, layout.MODELS_POLICY),
            (layout.MODELS_POLICY,), image="trainer",
        ),
        Stage(
            "select", "selection", "promotion", (layout.MODELS_POLICY,), (layout.SELECTION,),
            asset="adagrpo_policy",
        ),
        Stage("bless", "blessing", "promotion", (layout.SELECTION,), (layout.BLESSING,)),
        Stage(
            "register", "registry", "registry", (layout.BLESSING,), (layout.REGISTRATION,),
            asset="adagrpo_registered_model",
        ),
    )
}  # fmt: skip

# Commands that are not stages of the daily run, and what they publish.
TOOLS = {
    "replay": ("simulate", RAW_LOGS),
    "analyze": ("analysis", (layout.ANALYSIS,)),
    "experiment": ("experiment", (layout.COMPARISON,)),
    "serve": ("serving", ()),
    "ab-readout": ("abtest", (layout.AB_READOUTS,)),
    "gc": ("housekeeping", ()),
    "registry": ("registry", ()),
    "kfp": ("orchestration", ()),
}


def stage(name: str) -> Stage:
    """The stage ``name``; a ValueError listing the stages for any other."""
    try:
        return STAGES[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; the stages are {list(STAGES)}") from None


def cli_modules() -> list[str]:
    """The CLI modules of every stage and tool, each once, in the manifest's order."""
    packages = [s.package for s in STAGES.values()] + [package for package, _ in TOOLS.values()]
    return [f"components.{package}.cli" for package in dict.fromkeys(packages)]


def producer_hint(key: str) -> str:
    """What to run so that ``key`` gets published, e.g. "; run `adagrpo extract --ds D` first"."""
    producers: dict[str, str] = {}  # the first command that publishes a dataset names it
    commands = [(s.name, s.publishes) for s in STAGES.values()]
    commands += [(command, out) for command, (_, out) in TOOLS.items()]
    for command, published in commands:
        for name in published:
            producers.setdefault(name, command)
    dataset = next((d for d in producers if key == d or key.startswith(f"{d}/")), None)
    if dataset in RAW_LOGS:
        return (
            "; raw logs have not landed: wait for them, or run `adagrpo simulate` or "
            "`adagrpo replay`"
        )
    if dataset is None:
        return ""
    day = re.search(r"dt=(\d{4}-\d{2}-\d{2})", key)
    ds = f" --ds {day.group(1)}" if day else ""
    return f"; run `adagrpo {producers[dataset]}{ds}` first"


# -- the daily DAG ------------------------------------------------------------------------------

SENSOR = "wait_for_raw_logs"


@dataclass(frozen=True)
class Task:
    task_id: str
    stage: Stage | None  # None: the sensor that waits for the raw logs to land
    doc: str
    method: str | None = None  # the training method a train or evaluate task is about

    @property
    def reads(self) -> tuple[str, ...]:
        if self.stage is None:
            return RAW_LOGS
        if self.stage.name == "train":
            reinforced = training_method(self.method or SFT).reinforced
            # An RL run starts from the evaluated SFT run and is rewarded by the ranker.
            if not reinforced:
                return (layout.DATASETS,)
            return (layout.DATASETS, layout.MODELS_RANKER, _evaluated(SFT))
        if self.stage.name == "evaluate":
            return (layout.DATASETS, _trained(self.method))
        if self.stage.name == "select":
            return tuple(_evaluated(t.method) for t in TASKS if _is(t, "evaluate"))
        return self.stage.reads

    @property
    def publishes(self) -> tuple[str, ...]:
        if self.stage is None:
            return RAW_LOGS  # landed: the sensor lets the rest of the run read them
        if self.stage.name == "train":
            return (_trained(self.method),)
        if self.stage.name == "evaluate":
            return (_evaluated(self.method),)
        return self.stage.publishes


def _trained(method: str | None) -> str:
    return f"{layout.MODELS_POLICY}/method={method}"


def _evaluated(method: str | None) -> str:
    return f"{_trained(method)}/{layout.RUN_EVALUATION}"


def _is(task: Task, name: str) -> bool:
    return task.stage is not None and task.stage.name == name


TASKS: tuple[Task, ...] = (
    Task(
        "simulate_raw_logs", STAGES["simulate"],
        "Embedded runs only: the simulated shop's raw exposure logs for the lookback window.",
    ),
    Task(SENSOR, None, "Waits (rescheduled, no worker held) until every raw partition of the "
         "window landed."),
    Task(
        "extract_exposures", STAGES["extract"],
        "Spark: raw logs of the window -> curated, deduplicated exposure partitions.",
    ),
    Task(
        "validate_exposures", STAGES["validate"],
        "Great Expectations on each curated partition; a failing one stops the run here.",
    ),
    Task(
        "materialize_features", STAGES["features"],
        "Spark feature snapshots, registered with Feast and materialized online.",
    ),
    Task(
        "train_ranker", STAGES["train-ranker"],
        "The reward model: P(click) from Feast's point-in-time features.",
    ),
    Task(
        "assign_semantic_ids", STAGES["semantic-ids"],
        "Semantic IDs for every item: the codebook's version kept, new items assigned.",
    ),
    Task(
        "build_dataset", STAGES["build-dataset"],
        "Per-user semantic-ID sequences, split leave-one-out into train/valid/test.",
    ),
    Task(
        "train_sft", STAGES["train"],
        "The training container: the supervised (NLL) policy, resumable checkpoints.", SFT,
    ),
    Task(
        "evaluate_sft", STAGES["evaluate"],
        "Every SFT checkpoint decoded on validation and test; the best chosen on validation.",
        SFT,
    ),
    Task(
        "train_adagrpo", STAGES["train"],
        "The training container: AdaGRPO from the best SFT checkpoint, ranker as reward.",
        "adagrpo",
    ),
    Task(
        "evaluate_adagrpo", STAGES["evaluate"],
        "Every AdaGRPO checkpoint decoded on validation and test.", "adagrpo",
    ),
    Task(
        "select_candidate", STAGES["select"],
        "The day's candidate: the best checkpoint of either run on validation.",
    ),
    Task(
        "bless_candidate", STAGES["bless"],
        "The blessing gate: the candidate against the registry's champion and the floors.",
    ),
    Task(
        "register_model", STAGES["register"],
        "A blessed candidate becomes a registry version and the challenger of the A/B test.",
    ),
)  # fmt: skip


def dag_edges(tasks: tuple[Task, ...] = TASKS) -> set[tuple[str, str]]:
    """(upstream, downstream) task ids: a task follows every task that publishes what it reads,
    without the edges that a longer path already implies."""
    direct = {
        (up.task_id, down.task_id)
        for down in tasks
        for up in tasks
        if up is not down and set(up.publishes) & set(down.reads)
    }
    return {(a, b) for a, b in direct if not _longer_path(direct, a, b)}


def _longer_path(edges: set[tuple[str, str]], start: str, end: str) -> bool:
    """Whether ``end`` can be reached from ``start`` other than by the edge between them."""
    frontier = [b for a, b in edges if a == start and b != end]
    seen = set(frontier)
    while frontier:
        node = frontier.pop()
        if node == end:
            return True
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                frontier.append(b)
    return False
