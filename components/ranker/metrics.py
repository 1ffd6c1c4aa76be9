"""Click-prediction metrics on the evaluation day: ranking (AUC), fit (log loss), calibration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    rows: int
    mean_predicted: float
    observed_rate: float


def click_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """AUC, log loss and expected calibration error of ``predicted`` click probabilities."""
    bins = reliability(labels, predicted)
    return {
        "auc": float(roc_auc_score(labels, predicted)),
        "log_loss": float(log_loss(labels, predicted, labels=[False, True])),
        "ece": expected_calibration_error(bins, len(labels)),
        "click_rate": float(np.mean(labels)),
        "mean_predicted": float(np.mean(predicted)),
        "rows": float(len(labels)),
    }


def reliability(labels: np.ndarray, predicted: np.ndarray) -> list[ReliabilityBin]:
    """Equal-count bins of rows by prediction: mean prediction against observed clicks.

    Equal counts, not equal widths: clicks are rare, so equal widths would put almost every
    row into the first bin and hide any miscalibration inside it.
    """
    groups = np.array_split(np.argsort(predicted, kind="stable"), CALIBRATION_BINS)
    return [
        ReliabilityBin(
            low=float(predicted[group].min()),
            high=float(predicted[group].max()),
            rows=len(group),
            mean_predicted=float(predicted[group].mean()),
            observed_rate=float(labels[group].mean()),
        )
        for group in groups
        if len(group)
    ]


def expected_calibration_error(bins: list[ReliabilityBin], rows: int) -> float:
    """Row-weighted mean gap between predicted and observed click rates over the bins."""
    return sum(b.rows * abs(b.mean_predicted - b.observed_rate) for b in bins) / rows
