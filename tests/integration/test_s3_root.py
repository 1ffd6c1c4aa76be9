"""The stages that need no Spark, on an S3 data root (moto's server at a custom endpoint).

The tiny shop's partitions that Spark made locally (curated exposures, feature snapshots,
training sets) are uploaded, because Spark reaches S3 only through its s3a connector; from
there Feast's half of the features stage, semantic IDs, the ranker, training and evaluation run
on S3 and must give what they give on a local root.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path

import boto3
import pyarrow as pa
import pytest

from components import cli
from components.core import partitions
from components.core.config import PipelineConfig, load_config
from components.core.layout import FEATURES_FEAST, RANKER_ROWS, SFT_KEY, partition
from components.core.storage import LocalStorage, open_storage
from components.features.days import run_days
from components.features.stage import serve_features
from components.ranker.artifacts import ranker_partition
from components.semantic_ids.store import map_partition
from components.trainer.checkpoints import PolicyRun

pytestmark = [
    pytest.mark.spark,  # the local reference is built with Spark
    pytest.mark.filterwarnings("ignore::FutureWarning:dask"),  # dask about its pandas calls
]

DS = date(2026, 11, 3)
# What the stages rerun on S3 publish (and Spark's leftovers): not uploaded.
RERUN = ("_staging", "features/feast", "features/ranker_rows", "models")
TINY_TRAINING = (
    "policy.d_model=32", "policy.n_layer=1", "policy.n_head=2", "train.epochs=1",
    "train.warmup_steps=2", "ranker.epochs=1", "features.training_days=2",
)  # fmt: skip


def settings_flags(*settings: str) -> list[str]:
    return [arg for setting in settings for arg in ("--set", setting)]


@pytest.fixture(scope="module")
def local_root(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny shop with its features, ranker, SFT run and evaluation, all on a local root."""
    root = tmp_path_factory.mktemp("local-lake") / "root"
    shutil.copytree(tiny_dataset, root)
    flags = ["--root", str(root), "--ds", DS.isoformat(), *settings_flags(*TINY_TRAINING)]
    for stage in ("features", "train-ranker", "train", "evaluate"):
        assert cli.main([stage, *flags, "--set", "spark.master=local[2]"]) == 0, stage
    return root


def lake_on_s3(endpoint: str, local_root: Path, skip: tuple[str, ...]) -> PipelineConfig:
    """A fresh bucket holding ``local_root`` but ``skip``; the config of that root."""
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    settings = [f"storage.root=s3://{bucket}/adagrpo", f"storage.s3_endpoint_url={endpoint}"]
    config = load_config(overrides=[*TINY_TRAINING, *settings], environ={})
    lake = open_storage(config.storage)
    for path in sorted(local_root.rglob("*")):
        key = path.relative_to(local_root).as_posix()
        if path.is_file() and not key.startswith(skip):
            lake.write_bytes(key, path.read_bytes())
    return config


@pytest.fixture(scope="module")
def served_on_s3(local_root: Path, s3_endpoint: str) -> PipelineConfig:
    """What Spark published for the tiny shop, on S3, after Feast's half of the features
    stage ran there (Spark itself reaches S3 only through its s3a connector)."""
    config = lake_on_s3(s3_endpoint, local_root, skip=RERUN)
    lake = open_storage(config.storage)
    serve_features(config, DS, run_days(lake, DS, config.features))
    return config


def s3_flags(config: PipelineConfig) -> list[str]:
    return [
        "--root", config.storage.root, "--ds", DS.isoformat(),
        "--set", f"storage.s3_endpoint_url={config.storage.s3_endpoint_url}",
        *settings_flags(*TINY_TRAINING),
    ]  # fmt: skip


def sorted_table(table: pa.Table, key: str) -> pa.Table:
    return table.sort_by([(key, "ascending")])


def test_semantic_ids_fitted_on_s3_equal_the_local_ones(local_root: Path, s3_endpoint: str) -> None:
    config = lake_on_s3(s3_endpoint, local_root, skip=(*RERUN, "sids", "embeddings"))

    assert cli.main(["semantic-ids", *s3_flags(config)]) == 0

    on_s3 = open_storage(config.storage).read_parquet(map_partition(1, DS))
    local = LocalStorage(local_root).read_parquet(map_partition(1, DS))
    assert sorted_table(on_s3, "item_id").equals(sorted_table(local, "item_id"))


def test_feast_on_s3_serves_the_ranker_rows_a_local_root_gets(
    served_on_s3: PipelineConfig, local_root: Path
) -> None:
    lake = open_storage(served_on_s3.storage)

    assert lake.exists(f"{FEATURES_FEAST}/registry.db")  # Feast's registry lives on S3
    on_s3 = lake.read_parquet(partition(RANKER_ROWS, DS))
    local = LocalStorage(local_root).read_parquet(partition(RANKER_ROWS, DS))
    assert on_s3.num_rows > 0
    assert sorted_table(on_s3, "event_id").equals(sorted_table(local, "event_id"))


def test_the_ranker_and_the_policy_train_and_evaluate_on_s3_to_the_local_weights(
    served_on_s3: PipelineConfig, local_root: Path
) -> None:
    for stage in ("train-ranker", "train", "evaluate"):
        assert cli.main([stage, *s3_flags(served_on_s3)]) == 0, stage

    lake, local = open_storage(served_on_s3.storage), LocalStorage(local_root)
    assert (
        lake.read_json(f"{ranker_partition(DS)}/metrics.json")["weights_sha256"]
        == (local.read_json(f"{ranker_partition(DS)}/metrics.json")["weights_sha256"])
    )
    on_s3, here = PolicyRun(lake, DS, SFT_KEY), PolicyRun(local, DS, SFT_KEY)
    assert partitions.is_published(lake, on_s3.evaluation)
    steps = on_s3.checkpoint_steps()
    assert steps == here.checkpoint_steps()
    assert (
        on_s3.checkpoint_info(steps[-1])["model_sha256"]
        == (here.checkpoint_info(steps[-1])["model_sha256"])
    )
    assert (
        lake.read_json(on_s3.evaluation_summary)["best"]
        == (local.read_json(here.evaluation_summary)["best"])
    )
