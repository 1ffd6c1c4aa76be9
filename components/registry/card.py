"""The model card of a registered version: what it is, where it came from, how it scored."""

from __future__ import annotations

import json
from typing import Any


def model_card(metadata: dict[str, Any]) -> str:
    test = metadata["metrics"]["test"]
    window = metadata["data_window"]
    blessing = metadata["blessing"]
    lines = [
        f"# Generative recommender, {metadata['ds']} ({metadata['method']})",
        "",
        "A SID-token policy: given a user's history of items as semantic IDs, it generates the "
        "next item's SID; beam search constrained to the listed items gives the top K.",
        "",
        "## Provenance",
        f"- Trained on the data of {window['history_days'][0]} to {window['history_days'][1]} "
        f"({window['split']} split; examples {json.dumps(window['examples'])}), semantic IDs of "
        f"codebook version {metadata['sid_version']}.",
        f"- Run `{metadata['run']}`, checkpoint step {metadata['step']}, weights sha256 "
        f"`{metadata['weights_sha256']}`.",
        f"- Started from {json.dumps(metadata['spec']['init'])}; rewarded by the ranker "
        f"{json.dumps(metadata['spec']['ranker'])}.",
        f"- Code version {metadata['code_version'] or 'unknown'}; image digest "
        f"{metadata['image_digest'] or 'none (not run in a container)'}.",
        "",
        "## Metrics (the day's test users, constrained beam search)",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {value:.4f} |" for name, value in test.items() if name != "users"),
        f"| users | {test['users']} |",
        f"| validation (selection) | {metadata['metrics']['valid']:.4f} |",
        "",
        "## Blessing",
        *(f"- {reason}" for reason in blessing["reasons"]),
        "",
        "## Use and limits",
        "- Recommends only items with a SID in its catalog; items added after its training day "
        "are unknown to it until a newer version is registered.",
        "- Scored offline on held-out positives; the A/B test decides whether it serves.",
    ]
    return "\n".join(lines) + "\n"
