"""The blessing as a page: the verdict, every reason, the candidate beside the champion."""

from __future__ import annotations

from html import escape
from typing import Any

from components.core.html_page import page

STYLE = "h1.blessed { background: #2e7d32; } h1.refused { background: #c62828; }"


def render_report(decision: dict[str, Any]) -> str:
    candidate, champion = decision["candidate"], decision["champion"]
    facts = {"logical date": decision["ds"], "candidate": "none", "champion": "none"}
    if candidate is not None:
        facts["candidate"] = (
            f"{candidate['run']} step {candidate['step']} "
            f"(weights {candidate['model_sha256'][:12]})"
        )
    if champion is not None:
        own_map = "" if champion["same_codebook"] else ", scored through its own SID map"
        facts["champion"] = (
            f"registry version {champion['version']} (codebook v{champion['sid_version']}{own_map})"
        )
    body = [
        "<h2>Reasons</h2><ul>",
        *(f"<li>{escape(reason)}</li>" for reason in decision["reasons"]),
        "</ul>",
    ]
    scored = [(name, entry) for name, entry in (("candidate", candidate), ("champion", champion))
              if entry is not None and "test" in entry]  # fmt: skip
    if scored:
        metrics = sorted(m for m in scored[0][1]["test"] if m != "users")
        body.append("<h2>Test users, the served decoder</h2><table><tr><th></th>")
        body += [f"<th>{escape(m)}</th>" for m in metrics] + ["<th>users</th></tr>"]
        for name, entry in scored:
            cells = "".join(f"<td>{entry['test'][m]:.4f}</td>" for m in metrics)
            body.append(f"<tr><td>{name}</td>{cells}<td>{entry['test']['users']}</td></tr>")
        body.append("</table>")
    verdict = "blessed" if decision["blessed"] else "refused"
    return page(f"Blessing {decision['ds']}: {verdict}", facts, body, heading_class=verdict,
                style=STYLE)  # fmt: skip
