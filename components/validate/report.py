"""Store a validation verdict: ``result.json`` for machines, ``report.html`` for people."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from components.core.html_page import page
from components.core.storage import Storage
from components.validate.result import (
    ExpectationOutcome,
    PartitionResult,
    report_key,
    result_key,
)

_STYLE = """
h1.passed { background: #2e7d32; } h1.failed { background: #c62828; }
table { width: 100%; } th, td { text-align: left; }
td.status { font-weight: 600; white-space: nowrap; }
tr.passed td.status { color: #2e7d32; } tr.failed td.status { color: #c62828; }
tr.error td.status { color: #ef6c00; } tr.not_evaluated td.status { color: #757575; }
tr.failed, tr.error { background: #fff5f5; }
code { font-size: 12px; word-break: break-all; }
"""


def write_report(storage: Storage, result: PartitionResult) -> None:
    # result.json goes last: it is what the gate reads, so the HTML is never older than it.
    storage.write_bytes(report_key(result.dt), render_html(result).encode())
    storage.write_json(result_key(result.dt), result.to_json())


def render_html(result: PartitionResult) -> str:
    verdict = "passed" if result.success else "failed"
    skipped = result.skipped
    title = f"curated exposures dt={result.dt.isoformat()}: {verdict.upper()}"
    if skipped:
        title += f" ({len(skipped)} check{'s' * (len(skipped) > 1)} skipped)"
    facts = {
        "run (ds)": result.ds.isoformat(),
        "rows": f"{result.rows:,}",
        "partition published at": result.published_at,
        "validated at": result.validated_at,
        "failed expectations": str(len(result.failures)),
        "skipped expectations": "; ".join(
            f"{outcome.rule}, skipped: {outcome.details}" for outcome in skipped
        )
        or "none",
    }
    return page(
        title,
        facts,
        [
            "<table><thead><tr><th>status</th><th>expectation</th><th>rule</th>"
            "<th>observed</th><th>unexpected</th><th>examples</th><th>details</th></tr></thead>",
            "<tbody>",
            *(_row(outcome) for outcome in result.outcomes),
            "</tbody></table>",
        ],
        heading_class=verdict,
        style=_STYLE,
    )


def _row(outcome: ExpectationOutcome) -> str:
    cells = [
        outcome.status.value.replace("_", " "),
        outcome.label,
        outcome.rule,
        _text(outcome.observed_value),
        outcome.unexpected_share(),
        ", ".join(_text(value) for value in outcome.unexpected_examples),
        outcome.details or "",
    ]
    status, *rest = (escape(cell) for cell in cells)
    return (
        f'<tr class="{outcome.status.value}"><td class="status">{status}</td>'
        + "".join(f"<td><code>{cell}</code></td>" for cell in rest)
        + "</tr>"
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
