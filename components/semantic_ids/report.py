"""The per-run report of a SID map: ``report.json`` for machines, ``report.html`` for people.

The HTML page is self-contained: its plots (code utilization per level, collisions) are PNGs
drawn with matplotlib's Agg canvas and embedded as base64.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from components.core.html_page import page, png_image
from components.semantic_ids.codes import CodeStats

_STYLE = """
body { max-width: 70rem; } th, td { text-align: right; }
"""


def attachments(report: dict[str, Any], stats: CodeStats) -> dict[str, bytes]:
    """The files published next to the map."""
    return {
        "report.json": json.dumps(report, indent=2, sort_keys=True).encode(),
        "report.html": render_html(report, stats).encode(),
    }


def render_html(report: dict[str, Any], stats: CodeStats) -> str:
    title = f"semantic IDs dt={report['ds']}: codebook v{report['version']}"
    refit = report["refit_reasons"]
    vectors = dict(report["vectors"])
    source = vectors.pop("source")
    facts = {
        "codebook": f"v{report['version']} fitted on {report['fitted_on']}",
        "this run": "refit: " + "; ".join(refit) if refit else "assigned with the current codebook",
        "vectors": f"{source} ({_counts(vectors)})",
        "items": _counts(report["items"]),
        "collision rate": f"{stats.collision_rate:.2%} of items share their codes",
        "max de-dup index": f"{stats.max_dedup_index} (vocabulary {report['dedup_vocab']})",
        "quantization error": _counts(report["quantization_error"]),
    }
    rows = "".join(
        f"<tr><td>{level + 1}</td><td>{used}</td><td>{report['codes_per_level']}</td>"
        f"<td>{share:.1%}</td></tr>"
        for level, (used, share) in enumerate(zip(stats.codes_used, stats.utilization, strict=True))
    )
    return page(
        title,
        facts,
        [
            "<h2>Code utilization</h2>",
            "<table><tr><th>level</th><th>codes used</th><th>codes</th><th>utilization</th></tr>",
            f"{rows}</table>",
            png_image(_utilization_png(stats), "items per code, per level"),
            "<h2>Collisions</h2>",
            png_image(_collisions_png(stats), "items by the number of items sharing their codes"),
        ],
        style=_STYLE,
    )


def _counts(values: dict[str, Any]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in values.items())


def _utilization_png(stats: CodeStats) -> bytes:
    from matplotlib.figure import Figure  # the Agg canvas, without pyplot's global state

    levels = len(stats.items_per_code)
    figure = Figure(figsize=(4 * levels, 3), layout="constrained")
    for level, (axes, counts) in enumerate(
        zip(figure.subplots(1, levels, squeeze=False)[0], stats.items_per_code, strict=True)
    ):
        axes.bar(np.arange(len(counts)), np.sort(counts)[::-1], width=1.0, color="#1565c0")
        axes.axhline(stats.items / len(counts), color="#c62828", linestyle="--", label="uniform")
        axes.set_title(f"level {level + 1}: {stats.utilization[level]:.0%} of codes used")
        axes.set_xlabel("codes, most used first")
        axes.set_ylabel("items")
        axes.legend()
    return _png(figure)


def _collisions_png(stats: CodeStats) -> bytes:
    from matplotlib.figure import Figure

    sharing, groups = np.unique(stats.items_per_sid_prefix, return_counts=True)
    figure = Figure(figsize=(6, 3), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(sharing))
    axes.bar(positions, sharing * groups, color="#1565c0")
    axes.set_xticks(positions, [str(size) for size in sharing])
    axes.set_yscale("log")
    axes.set_title(
        f"collision rate {stats.collision_rate:.2%}, max de-dup index {stats.max_dedup_index}"
    )
    axes.set_xlabel("items sharing the same codes")
    axes.set_ylabel("items")
    return _png(figure)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()
