"""The evaluation report: learning curves, the retrieval-validity frontier, the checkpoints."""

from __future__ import annotations

import io
import json
from html import escape
from typing import Any

from components.core.html_page import page, png_image

STYLE = "td.best { background: #e3f2fd; font-weight: 600; }"


def render_report(summary: dict[str, Any], results: list[dict[str, Any]], metrics_log: str) -> str:
    best, metric = summary["best"], summary["selection_metric"]  # e.g. ndcg@10
    k = metric.split("@")[1]
    facts = {
        "logical date": summary["ds"],
        "run": summary["run"],
        "best checkpoint": f"step {best['step']} (epoch {best['epoch']}), {summary['selected_on']}",
        "test, constrained": _headline(best["test"]["constrained"], k),
        "test, unconstrained": _headline(best["test"]["unconstrained"], k),
        "users": ", ".join(f"{k} {v:,}" for k, v in summary["users"].items()),
        "catalog items": f"{summary['catalog_items']:,} (full ranking: beams over every SID)",
    }
    training = [json.loads(line) for line in metrics_log.splitlines() if line.strip()]
    body = [
        "<h2>Learning curves</h2>",
        png_image(_curves_png(results, training, metric), f"training loss and {metric} by step"),
        "<h2>Retrieval-validity frontier (unconstrained beam search)</h2>",
        f"<p>Each point is a checkpoint: {metric} on validation against the share of "
        "recommended SIDs that match no item. Constrained decoding has no hallucination by "
        "construction.</p>",
        png_image(_frontier_png(results, metric), f"{metric} against hallucination rate"),
        "<h2>Checkpoints</h2>",
        _table(results, best["step"]),
    ]
    if any("admission" in record for record in training):
        body[2:2] = [
            "<h2>Reward-guided training</h2>",
            "<p>Per progress line: the share of samples the gate admitted and of those found "
            "difficult and discriminable, the groups whose rewards were all equal, the rollouts "
            "that matched no item, and the mean reward of the valid rollouts.</p>",
            png_image(_rl_png(training), "admission, diagnostics and rewards by step"),
        ]
    return page(f"Policy evaluation, {summary['run']}", facts, body, style=STYLE)


def _headline(metrics: dict[str, float], k: str) -> str:
    return (
        f"HR@{k} {metrics[f'hr@{k}']:.4f}, NDCG@{k} {metrics[f'ndcg@{k}']:.4f}, "
        f"hallucination {100 * metrics['hallucination_rate']:.2f}%"
    )


def _table(results: list[dict[str, Any]], best_step: int) -> str:
    # Sorted, not in dict order: results read back from JSON come with their keys sorted.
    metric_names = sorted(k for k in results[0]["valid"]["constrained"] if "@" in k)
    header = "<tr><th>step</th><th>epoch</th><th>train loss</th><th>split</th><th>decoding</th>"
    header += "".join(f"<th>{escape(name)}</th>" for name in metric_names)
    header += "<th>hallucination</th></tr>"
    rows = []
    for result in results:
        cls = ' class="best"' if result["step"] == best_step else ""
        for split in (split for split in ("valid", "test") if split in result):
            for decoding, metrics in sorted(result[split].items()):
                cells = "".join(f"<td>{metrics[name]:.4f}</td>" for name in metric_names)
                loss = result["train_loss"]
                rows.append(
                    f"<tr><td{cls}>{result['step']}</td><td>{result['epoch']}</td>"
                    f"<td>{'' if loss is None else f'{loss:.4f}'}</td><td>{split}</td>"
                    f"<td>{decoding}</td>{cells}"
                    f"<td>{100 * metrics['hallucination_rate']:.2f}%</td></tr>"
                )
    return "<table>" + header + "".join(rows) + "</table>"


def _curves_png(
    results: list[dict[str, Any]], training: list[dict[str, Any]], metric: str
) -> bytes:
    from matplotlib.figure import Figure  # the Agg canvas, without pyplot's global state

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    loss_axes, metric_axes = figure.subplots(1, 2)
    nll = [float("nan") if r["loss"] is None else r["loss"] for r in training]  # grpo: no NLL
    loss_axes.plot([r["step"] for r in training], nll, color="#1565c0")
    loss_axes.set_xlabel("step")
    loss_axes.set_ylabel("training NLL per token")
    for split, color in (("valid", "#2e7d32"), ("test", "#c62828")):
        scored = [r for r in results if split in r]  # test: the chosen checkpoint, or all
        for decoding, style in (("constrained", "-"), ("unconstrained", ":")):
            values = [r[split][decoding][metric] for r in scored]
            metric_axes.plot([r["step"] for r in scored], values, style, marker="o",
                             color=color, label=f"{split}, {decoding}")  # fmt: skip
    metric_axes.set_xlabel("step")
    metric_axes.set_ylabel(metric)
    metric_axes.legend(fontsize=8)
    return _png(figure)


def _rl_png(training: list[dict[str, Any]]) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    shares, rewards = figure.subplots(1, 2)
    steps = [r["step"] for r in training]
    for name, color in (
        ("admission", "#1565c0"),
        ("difficult", "#ef6c00"),
        ("discriminable", "#2e7d32"),
        ("zero_variance", "#757575"),
        ("hallucination", "#c62828"),
    ):
        shares.plot(steps, [r[name] for r in training], color=color, label=name)
    shares.set_xlabel("step")
    shares.set_ylabel("share")
    shares.set_ylim(0, 1.02)
    shares.legend(fontsize=8)
    rewards.plot(steps, [r["reward_mean"] for r in training], color="#6a1b9a", label="mean")
    rewards.plot(steps, [r["reward_std"] for r in training], ":", color="#6a1b9a",
                 label="std within groups")  # fmt: skip
    rewards.set_xlabel("step")
    rewards.set_ylabel("reward of valid rollouts")
    rewards.legend(fontsize=8)
    return _png(figure)


def _frontier_png(results: list[dict[str, Any]], metric: str) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.8, 3.8), layout="constrained")
    axes = figure.subplots()
    points = [(r["valid"]["unconstrained"], r["step"]) for r in results]
    x = [100 * m["hallucination_rate"] for m, _ in points]
    y = [m[metric] for m, _ in points]
    axes.plot(x, y, marker="o", color="#6a1b9a")
    for (_, step), xi, yi in zip(points, x, y, strict=True):
        axes.annotate(str(step), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes.set_xlabel("hallucination rate (%)")
    axes.set_ylabel(f"{metric} (validation)")
    return _png(figure)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
