"""The ranker's HTML report: evaluation metrics, a reliability plot, the truth buckets."""

from __future__ import annotations

import io
from html import escape
from typing import Any

from components.core.html_page import page, png_image
from components.ranker.bias import BucketAccuracy
from components.ranker.metrics import ReliabilityBin


def render_report(
    facts: dict[str, str], bins: list[ReliabilityBin], buckets: list[BucketAccuracy] | None
) -> str:
    body = [
        "<h2>Calibration on the evaluation day</h2>",
        png_image(_reliability_png(bins), "reliability: predicted against observed click rate"),
        "<h2>Accuracy against the hidden truth, by item exposure</h2>",
    ]
    if buckets is None:
        body.append("<p>No simulator truth under this root: not measured.</p>")
    else:
        body += [
            "<p>Items bucketed by their exposures in the training rows. Pairwise accuracy: "
            "over sampled users and pairs of items of one bucket, the share the ranker orders "
            "as the true relevance does (0.5 is chance). The error compares the score at "
            "position 1 with the true click probability once examined.</p>",
            _bucket_table(buckets),
        ]
    return page("Ranker (reward model)", facts, body)


def _bucket_table(buckets: list[BucketAccuracy]) -> str:
    header = (
        "<tr><th>bucket</th><th>items</th><th>exposures</th><th>pairwise accuracy</th>"
        "<th>mean |score - relevance|</th><th>mean score</th><th>mean true relevance</th></tr>"
    )
    rows = [
        f"<tr><td>{escape(b.bucket)}</td><td>{b.items}</td>"
        f"<td>{b.min_exposures}-{b.max_exposures}</td><td>{b.pairwise_accuracy:.3f}</td>"
        f"<td>{b.mean_abs_error:.4f}</td><td>{b.mean_score:.4f}</td>"
        f"<td>{b.mean_relevance:.4f}</td></tr>"
        for b in buckets
    ]
    return "<table>" + header + "".join(rows) + "</table>"


def _reliability_png(bins: list[ReliabilityBin]) -> bytes:
    from matplotlib.figure import Figure  # the Agg canvas, without pyplot's global state

    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.subplots()
    predicted = [b.mean_predicted for b in bins]
    top = max([*predicted, *(b.observed_rate for b in bins), 1e-3])
    axes.plot([0, top], [0, top], color="#9e9e9e", linestyle="--", label="perfect")
    axes.plot(predicted, [b.observed_rate for b in bins], marker="o", color="#1565c0")
    axes.set_xlabel("mean predicted click probability (equal-count bins)")
    axes.set_ylabel("observed click rate")
    axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def format_facts(metrics: dict[str, Any]) -> dict[str, str]:
    evaluation = metrics["evaluation"]
    return {
        "logical date": metrics["ds"],
        "trained on": ", ".join(metrics["train_days"]),
        "evaluated on": metrics["eval_day"],
        "AUC": f"{evaluation['auc']:.4f}",
        "log loss": f"{evaluation['log_loss']:.4f}",
        "expected calibration error": f"{evaluation['ece']:.4f}",
        "click rate / mean prediction": (
            f"{evaluation['click_rate']:.4f} / {evaluation['mean_predicted']:.4f}"
        ),
        "weights sha256": metrics["weights_sha256"],
    }
