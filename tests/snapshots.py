"""What a storage root publishes, for comparing the outputs of two runs byte for byte."""

from __future__ import annotations

import json

from components.core.partitions import MANIFEST
from components.core.storage import Storage


def published_files(storage: Storage, prefix: str) -> dict[str, bytes]:
    """Every file of every partition below ``prefix`` (a folder committed by its manifest), by
    key; a manifest without its ``published_at``, the one field that says when, not what.
    Outside partitions live the engines' own state (Feast's registry), not outputs."""
    keys = storage.list_keys(prefix)
    partitions = tuple(key.removesuffix(MANIFEST) for key in keys if key.endswith(f"/{MANIFEST}"))
    files = {}
    for key in keys:
        if not key.startswith(partitions):
            continue
        data = storage.read_bytes(key)
        if key.endswith(f"/{MANIFEST}"):
            manifest = json.loads(data)
            manifest.pop("published_at", None)
            data = Storage.json_bytes(manifest)
        files[key] = data
    return files


def stored_files(storage: Storage) -> dict[str, bytes]:
    """Every object of a root, by key."""
    return {key: storage.read_bytes(key) for key in storage.list_keys("")}
