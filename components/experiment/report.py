"""The experiment's report: the answer, the table over seeds, the retrieval-validity frontier."""

from __future__ import annotations

import io
from html import escape
from typing import Any

from components.core.html_page import page, png_image

STYLE = "td.num { text-align: right; font-variant-numeric: tabular-nums; }"
POINTS = ("best", "final")


def render_report(comparison: dict[str, Any]) -> str:
    k = comparison["k"]
    sft = comparison["sft"]
    facts = {
        "logical date": comparison["ds"],
        "start": f"{sft['run']} step {sft['step']}: test HR@{k} {sft['hr']:.4f}, NDCG@{k} "
        f"{sft['ndcg']:.4f}, hallucination {100 * sft['hallucination_rate']:.2f}% (unconstrained)",
        "budget": f"{comparison['budget']['steps']} steps of {comparison['budget']['batch_size']} "
        f"sequences per run, {comparison['seeds']} seed(s)",
        "best checkpoint": f"selected on {comparison['selected_on']}",
        "truth": comparison["truth"],
    }
    body = [
        f"<p><b>{escape(comparison['answer']['text'])}</b></p>",
        "<h2>Retrieval-validity frontier (test, unconstrained beam search)</h2>",
        png_image(_frontier_png(comparison), "HR against hallucination per method"),
        "<h2>Methods, mean ± std over seeds</h2>",
        _table(comparison),
    ]
    return page(f"Method comparison, {comparison['ds']}", facts, body, style=STYLE)


def _cell(value: dict[str, float] | None, percent: bool = False) -> str:
    if value is None:
        return '<td class="num"></td>'
    scale = 100 if percent else 1
    unit = "%" if percent else ""
    return f'<td class="num">{scale * value["mean"]:.4f}{unit} ± {scale * value["std"]:.4f}</td>'


def _table(comparison: dict[str, Any]) -> str:
    k = comparison["k"]
    columns = ["valid NDCG", f"HR@{k}", f"NDCG@{k}", "hallucination", "vs truth-optimal"]
    header = "<tr><th>method</th>" + "".join(
        f"<th>{point}: {escape(c)}</th>" for point in POINTS for c in columns
    ) + "</tr>"  # fmt: skip
    rows = []
    for variant in comparison["variants"]:
        cells = [f"<td>{escape(variant['variant'])}</td>"]
        for point in POINTS:
            numbers = variant[point]
            cells += [
                _cell(numbers.get("valid_ndcg")),
                _cell(numbers.get("hr")),
                _cell(numbers.get("ndcg")),
                _cell(numbers.get("hallucination_rate"), percent=True),
                _cell(numbers.get("truth_ratio")),
            ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return "<table>" + header + "".join(rows) + "</table>"


def _frontier_png(comparison: dict[str, Any]) -> bytes:
    from matplotlib.figure import Figure

    k = comparison["k"]
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    for variant in comparison["variants"]:
        line = None
        for point, marker in (("best", "o"), ("final", "s")):
            numbers = variant[point]
            x = 100 * numbers["hallucination_rate"]["mean"]
            y = numbers["hr"]["mean"]
            line = axes.errorbar(
                x, y,
                xerr=100 * numbers["hallucination_rate"]["std"], yerr=numbers["hr"]["std"],
                marker=marker, linestyle="none",
                color=None if line is None else line[0].get_color(),
                label=f"{variant['variant']} ({point})",
            )  # fmt: skip
    sft = comparison["sft"]
    axes.plot(100 * sft["hallucination_rate"], sft["hr"], "k*", markersize=12, label="SFT start")
    axes.set_xlabel("hallucination rate (%)")
    axes.set_ylabel(f"HR@{k} (test)")
    axes.legend(fontsize=7, ncol=2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
