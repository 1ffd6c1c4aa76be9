"""The analysis report: the strata, each run's HR@K in them, the ranker against the truth."""

from __future__ import annotations

import io
from html import escape
from typing import Any

from components.core.html_page import page, png_image

STYLE = "td.num { text-align: right; font-variant-numeric: tabular-nums; }"
_LABELS = {"truth_ratio": "truth ratio"}


def _number(value: float | None) -> str:
    return f'<td class="num">{"" if value is None else f"{value:.4f}"}</td>'


def stratum_name(stratum: dict[str, Any]) -> str:
    difficult = "difficult" if stratum["difficult"] else "easy"
    discriminable = "discriminable" if stratum["discriminable"] else "not discriminable"
    return f"{difficult}, {discriminable}"


def render_report(summary: dict[str, Any]) -> str:
    k = summary["k"]
    runs = list(summary["runs"])
    facts = {
        "logical date": summary["ds"],
        "samples": f"{summary['samples']:,} (validation)",
        "diagnostics from": f"{summary['sft']['run']} step {summary['sft']['step']}, "
        + ", ".join(f"{name} {value}" for name, value in summary["rollouts"].items()),
        "thresholds": ", ".join(f"{n} {v}" for n, v in summary["thresholds"].items()),
        "truth": summary["truth"],
        "the ranker": _ranker_line(summary),
    }
    simulated = summary["truth"] == "simulated shop"
    metrics = [f"hr@{k}", *(["truth_ratio"] if simulated else [])]
    header = "<tr><th>stratum</th><th>samples</th><th>ranker vs truth</th>"
    header += "".join(
        f"<th>{_LABELS.get(metric, metric.upper())} {escape(run)}</th>"
        for metric in metrics
        for run in runs
    ) + "</tr>"  # fmt: skip
    rows = []
    for stratum in summary["strata"]:
        accuracy = stratum["ranker_truth_accuracy"]
        cells = [
            f"<td>{escape(stratum_name(stratum))}</td>",
            f'<td class="num">{stratum["samples"]:,} ({stratum["share"]:.0%})</td>',
            f'<td class="num">{"" if accuracy is None else f"{accuracy:.3f}"}</td>',
        ]
        cells += [_number(stratum[metric][run]) for metric in metrics for run in runs]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    overall = "<tr><td>all</td><td></td><td></td>" + "".join(
        _number(summary["runs"][run][metric]) for metric in metrics for run in runs
    ) + "</tr>"  # fmt: skip
    body = [
        "<p>Samples are bucketed by the SFT policy's difficulty and the ranker's "
        "discriminability, as AdaGRPO's gate computes them; AdaGRPO admits the first stratum "
        "to the GRPO term. 'Ranker vs truth' is the share of (ground truth, rollout negative) "
        "pairs that the ranker orders as the users' true relevance does; the truth ratio is "
        "the true relevance of a run's top-K lists over that of the truth-optimal lists, what "
        "the users would really get where HR only counts the next logged click.</p>",
        png_image(_strata_png(summary), f"HR@{k} per stratum and run"),
        "<table>" + header + "".join(rows) + overall + "</table>",
    ]
    return page(f"Stratified analysis, {summary['ds']}", facts, body, style=STYLE)


def _ranker_line(summary: dict[str, Any]) -> str:
    """How often the ranker scores the truth above a rollout, and orders pairs as the truth."""
    parts = []
    if (share := summary["ranker_discriminability"]) is not None:
        parts.append(f"scores the ground truth above {share:.1%} of the rollout negatives")
    if (accuracy := summary["ranker_truth_accuracy"]) is not None:
        parts.append(f"orders {accuracy:.1%} of those pairs as the true relevance does")
    return "; ".join(parts) or "no rollout negatives"


def _strata_png(summary: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    k = summary["k"]
    runs = list(summary["runs"])
    strata = summary["strata"]
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(runs), 1)
    for offset, run in enumerate(runs):
        values = [s[f"hr@{k}"][run] or 0.0 for s in strata]
        positions = [i + (offset - (len(runs) - 1) / 2) * width for i in range(len(strata))]
        axes.bar(positions, values, width, label=run)
    axes.set_xticks(range(len(strata)), [stratum_name(s) for s in strata], fontsize=8)
    axes.set_ylabel(f"HR@{k} (validation)")
    axes.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
