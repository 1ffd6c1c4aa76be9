"""The A/B readout as a page: the verdict, each arm's metrics with intervals, the lifts."""

from __future__ import annotations

from html import escape
from typing import Any

from components.abtest.statistics import METRICS
from components.core.html_page import page


def render_report(result: dict[str, Any]) -> str:
    spec = result["experiment"]
    facts = {
        "experiment": spec["id"],
        "days": " .. ".join(result["days"]),
        "control": f"version {spec['arms']['control']['version']} (champion)",
        "treatment": f"version {spec['arms']['treatment']['version']} (challenger), "
        f"{spec['treatment_share']:.0%} of users",
        "test": f"{result['test']}, {result['confidence']:.0%} intervals",
        "planned sample": (
            f"{result['needed_users']:,} users (from the logs before the start)"
            if result.get("needed_users") is not None
            else f"{result['needed_exposures_per_arm']:,} exposures per arm"
        ),
        "sample ratio": f"{result['sample_ratio']['observed_treatment_share']:.2%} treatment "
        f"(p {result['sample_ratio']['p_value']:.3g})",
        "guardrail": f"hallucination control {result['guardrail']['control']:.4f}, treatment "
        f"{result['guardrail']['treatment']:.4f}: "
        f"{'passed' if result['guardrail']['passed'] else 'FAILED'}",
    }
    rows = []
    for metric in METRICS:
        cells = [f"<td>{escape(metric)}</td>"]
        for arm in ("control", "treatment"):
            value = result["arms"][arm][metric]
            cells.append(f"<td>{value['value']:.5g} [{value['low']:.5g}, {value['high']:.5g}]</td>")
        effect = result[metric]
        low, high = effect["lift_interval"]
        cells.append(
            f"<td>{effect['lift']:+.2%} [{low:+.2%}, {high:+.2%}]</td>"
            f"<td>{effect['p_value']:.3g}</td><td>{effect['minimum_detectable_lift']:.2%}</td>"
        )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    users = "".join(
        f"<td>{result['arms'][arm]['users']:,} users, {result['arms'][arm]['exposures']:,} "
        "exposures</td>"
        for arm in ("control", "treatment")
    )
    body = [
        f"<p><b>{escape(result['verdict'])}</b></p>",
        "<table><tr><th>metric</th><th>control</th><th>treatment</th><th>lift</th>"
        "<th>p-value</th><th>detectable lift</th></tr>",
        f"<tr><td>traffic</td>{users}<td></td><td></td><td></td></tr>",
        *rows,
        "</table>",
    ]
    return page(f"A/B readout: {spec['id']}", facts, body)
