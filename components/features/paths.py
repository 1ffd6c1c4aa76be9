"""Where the features stage's outputs live under the storage root (see ``core.layout``)."""

from __future__ import annotations

from components.core.layout import FEATURES

OFFLINE = f"{FEATURES}/offline"  # daily snapshots by dt: the Feast offline sources
FEAST = f"{FEATURES}/feast"  # the Feast registry and the SQLite online store
RANKER_ROWS = f"{FEATURES}/ranker_rows"  # ranker training rows, one partition per logical date


def offline_source(view_name: str) -> str:
    return f"{OFFLINE}/{view_name}"
