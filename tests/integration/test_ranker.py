"""The ranker on the tiny simulated shop: training (blind to the held-out positives) and
evaluation, artifacts and their sha256, deterministic and batch-independent scores, the truth
report by item exposure."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components import cli
from components.core.config import PipelineConfig
from components.core.partitions import ArtifactIntegrityError
from components.core.storage import LocalStorage
from components.datasets.reader import open_dataset
from components.ranker.artifacts import ranker_partition
from components.ranker.rows import before_holdout, holdout_starts, load_rows
from components.ranker.scorer import RankerScorer

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::FutureWarning:dask"),  # dask about its pandas calls
]

DS = date(2026, 11, 3)


@pytest.fixture(scope="module")
def ranked_shop(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny shop's training set with its features and a ranker trained for ``DS``."""
    root = tmp_path_factory.mktemp("ranked-shop") / "root"
    shutil.copytree(tiny_dataset, root)
    common = ["--root", str(root), "--ds", DS.isoformat(), "--set", "spark.master=local[2]"]
    assert cli.main(["features", *common]) == 0
    assert cli.main(["train-ranker", *common]) == 0
    return root


def metrics(root: Path) -> dict:
    return json.loads((root / ranker_partition(DS) / "metrics.json").read_text())


def test_trained_on_earlier_days_beats_chance_on_the_last(ranked_shop: Path) -> None:
    result = metrics(ranked_shop)
    assert result["eval_day"] == DS.isoformat()
    assert DS.isoformat() not in result["train_days"]
    evaluation = result["evaluation"]
    assert evaluation["auc"] > 0.5
    assert 0 < evaluation["log_loss"] < 1
    assert 0 <= evaluation["ece"] < 0.2
    report = (ranked_shop / ranker_partition(DS) / "report.html").read_text()
    assert "data:image/png;base64," in report  # the reliability plot, embedded


def test_trained_without_the_rows_from_each_users_held_out_positives_on(
    ranked_shop: Path,
) -> None:
    storage = LocalStorage(ranked_shop)
    train_files, _ = load_rows(storage, DS).split_last_day()
    logged = pd.concat(storage.read_parquet(key).to_pandas() for key in train_files.values())
    starts = holdout_starts(open_dataset(storage, DS))
    result = metrics(ranked_shop)
    assert result["held_out_rows_dropped"] > 0
    # The tiny shop's days fit the sample whole: every row before the holdout, none after.
    assert result["train_rows"] + result["held_out_rows_dropped"] == len(logged)
    assert result["train_rows"] == before_holdout(logged, starts).sum()
    sampled = result["sample"]["train"]
    assert sorted(sampled) == [day.isoformat() for day in train_files]
    counted = sum(n["sampled"] for day in sampled.values() for n in day.values())
    assert counted == result["train_rows"]


def test_truth_report_measures_accuracy_by_item_exposure(ranked_shop: Path) -> None:
    buckets = metrics(ranked_shop)["truth_by_exposure"]
    assert [b["bucket"] for b in buckets][-4:] == [f"exposed q{q}" for q in range(1, 5)]
    assert all(b["mean_abs_error"] >= 0 for b in buckets)
    exposures = [(b["min_exposures"], b["max_exposures"]) for b in buckets]
    assert exposures == sorted(exposures)  # buckets go from rarely to often exposed
    report = (ranked_shop / ranker_partition(DS) / "report.html").read_text()
    assert "pairwise accuracy" in report and "exposed q4" in report


def test_scores_are_deterministic_and_batch_independent(ranked_shop: Path) -> None:
    storage = LocalStorage(ranked_shop)
    rng = np.random.default_rng(0)
    users = rng.integers(0, 450, size=300)  # some ids are unknown: null features, still scored
    items = rng.integers(0, 160, size=300)
    scorer = RankerScorer.load(storage, DS)
    batched = scorer.score(users, items)
    assert batched.shape == (300,) and np.all((batched > 0) & (batched < 1))
    np.testing.assert_array_equal(RankerScorer.load(storage, DS).score(users, items), batched)
    one_by_one = np.concatenate([scorer.score([u], [i]) for u, i in zip(users, items, strict=True)])
    # Matrix kernels may round a row differently by batch shape: equal to float32 precision.
    np.testing.assert_allclose(one_by_one, batched, rtol=1e-5, atol=1e-7)


def test_published_config_records_the_weights_sha256(ranked_shop: Path) -> None:
    partition = ranked_shop / ranker_partition(DS)
    config = json.loads((partition / "config.json").read_text())
    digest = hashlib.sha256((partition / "model.safetensors").read_bytes()).hexdigest()
    assert config["weights_sha256"] == digest == metrics(ranked_shop)["weights_sha256"]


def test_retraining_gives_the_same_weights(ranked_shop: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ranked_shop, root)
    assert cli.main(["train-ranker", "--root", str(root), "--ds", DS.isoformat()]) == 0
    assert metrics(root)["weights_sha256"] == metrics(ranked_shop)["weights_sha256"]


def test_tampered_weights_are_refused(ranked_shop: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(ranked_shop, root)
    weights = root / ranker_partition(DS) / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        RankerScorer.load(LocalStorage(root), DS)


def test_a_day_without_its_training_set_names_the_stage_to_run(
    ranked_shop: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "root"
    shutil.copytree(ranked_shop, root, ignore=shutil.ignore_patterns("datasets"))
    assert cli.main(["train-ranker", "--root", str(root), "--ds", DS.isoformat()]) == 2
    assert f"run `adagrpo build-dataset --ds {DS}` first" in caplog.text


def test_a_day_without_rows_is_a_clear_error(tiny_shop: PipelineConfig) -> None:
    assert cli.main(["train-ranker", "--root", tiny_shop.storage.root, "--ds", "2026-10-01"]) == 2
