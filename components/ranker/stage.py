"""The ranker stage for one logical date: train on the earlier days (without the exposures from
each user's held-out positives on: the day's training set says when they begin), evaluate on the
last day, measure, publish. Both sides are streamed samples of bounded size (``sample.py``)."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pandas as pd

from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.storage import open_storage
from components.datasets.reader import open_dataset
from components.features.schema import STATS_VIEWS, snapshot_time
from components.features.training_rows import LABEL
from components.ranker import bias
from components.ranker.artifacts import publish_ranker, serialize_weights
from components.ranker.encoding import FeatureEncoder
from components.ranker.metrics import click_metrics, reliability
from components.ranker.model import ModelShape
from components.ranker.report import format_facts, render_report
from components.ranker.rows import HOLDOUT_COLUMNS, before_holdout, holdout_starts, load_rows
from components.ranker.sample import stratified_sample
from components.ranker.scorer import RankerScorer, read_snapshots
from components.ranker.training import fit, predict

log = logging.getLogger(__name__)


def train_ranker(config: PipelineConfig, ds: date) -> dict[str, Any]:
    """Train the ranker of ``ds`` on its rows, publish it with its report; its metrics."""
    params = config.ranker
    storage = open_storage(config.storage)
    rows = load_rows(storage, ds)
    windows = list(config.features.windows_days)
    _check_windows(rows.features, windows)
    train_files, eval_files = rows.split_last_day()
    starts = holdout_starts(open_dataset(storage, ds))
    training = stratified_sample(
        storage, train_files, params.train_rows, params.seed,
        keep=(HOLDOUT_COLUMNS, lambda shown: before_holdout(shown, starts)),
    )  # fmt: skip
    evaluated = stratified_sample(storage, eval_files, params.eval_rows, params.seed)
    train, evaluation = training.rows, evaluated.rows
    encoder = FeatureEncoder.fit(train, rows.features, max_position=int(train["position"].max()))
    inputs = encoder.encode(train)
    shape = ModelShape(
        numeric_inputs=int(inputs.numeric.shape[1]),
        categorical_fields=int(inputs.categorical.shape[1]),
        max_position=encoder.max_position,
    )
    model = fit(shape, inputs, train[LABEL].to_numpy(bool), params)

    labels = evaluation[LABEL].to_numpy(bool)
    predicted = predict(model, encoder.encode(evaluation))  # at the logged positions
    bins = reliability(labels, predicted)
    metrics: dict[str, Any] = {
        "ds": ds.isoformat(),
        "train_days": [day.isoformat() for day in train_files],
        "eval_day": next(iter(eval_files)).isoformat(),
        "train_rows": len(train),
        "eval_rows": len(evaluation),
        "held_out_rows_dropped": training.dropped,
        "sample": {"train": training.counts(), "eval": evaluated.counts()},
        "evaluation": click_metrics(labels, predicted),
        "reliability": [vars(b) for b in bins],
        "weights_sha256": serialize_weights(model)[1],
        "params": params.model_dump(mode="json"),
    }
    buckets = None
    if bias.has_truth(storage):
        scorer = RankerScorer(model, encoder, read_snapshots(storage, ds, windows))
        buckets = bias.truth_accuracy(
            storage,
            scorer.score,
            exposures=train["item_id"].value_counts(),
            listed_before=pd.Timestamp(snapshot_time(ds)),
            seed=params.seed,
        )
        metrics["truth_by_exposure"] = [b.to_json() for b in buckets]
    log.info(
        "ranker %s: eval AUC %.4f, log loss %.4f, ECE %.4f",
        ds,
        metrics["evaluation"]["auc"],
        metrics["evaluation"]["log_loss"],
        metrics["evaluation"]["ece"],
    )
    html = render_report(format_facts(metrics), bins, buckets)
    publish_ranker(
        storage,
        ds,
        model,
        encoder,
        {"windows_days": windows, "train_days": metrics["train_days"], "params": metrics["params"]},
        {"metrics.json": _finite(metrics), "report.html": html.encode()},
    )
    return metrics


def _check_windows(features: list[str], windows: list[int]) -> None:
    """Scoring reads the snapshots of ``windows``: the rows must have been built with them."""
    expected = [f"{view.name}__{name}" for view in STATS_VIEWS for name in view.features(windows)]
    if features != expected:
        raise BadInput(
            f"the ranker rows' features {features} are not those of windows_days {windows}: "
            "rerun the features stage with the same windows"
        )


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """Strict JSON has no NaN: an undefined accuracy (a one-item bucket) is written as null."""
    finite: dict[str, Any] = json.loads(json.dumps(metrics), parse_constant=lambda _: None)
    return finite
