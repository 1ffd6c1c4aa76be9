"""What a storage root publishes, for comparing the outputs of two runs byte for byte."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow.parquet as pq

from components.core.partitions import MANIFEST
from components.core.storage import Storage


def published_files(storage: Storage, prefix: str) -> dict[str, bytes]:
    """Every file of every partition below ``prefix`` (a folder committed by its manifest), by
    key, as :func:`comparable` makes it. Outside partitions live the engines' own state (Feast's
    registry), not outputs."""
    keys = storage.list_keys(prefix)
    partitions = tuple(key.removesuffix(MANIFEST) for key in keys if key.endswith(f"/{MANIFEST}"))
    return {
        key: comparable(key, storage.read_bytes(key)) for key in keys if key.startswith(partitions)
    }


def comparable(key: str, data: bytes) -> bytes:
    """A file's bytes, but for two things that say when or in which JVM, not what: a
    manifest's ``published_at``, and the order in which Spark's Parquet writer (parquet-mr)
    lists each column chunk's encodings, taken from a Java hash set whose order changes from
    one JVM to the next. A Spark file is its data pages, byte for byte, and its footer decoded
    with those lists sorted."""
    if key.endswith(f"/{MANIFEST}"):
        manifest = json.loads(data)
        manifest.pop("published_at", None)
        return Storage.json_bytes(manifest)
    if key.endswith(".parquet"):
        footer = pq.read_metadata(io.BytesIO(data))
        if footer.created_by.startswith("parquet-mr"):
            pages = data[: len(data) - 8 - int.from_bytes(data[-8:-4], "little")]
            described = footer.to_dict()
            for group in described["row_groups"]:
                for column in group["columns"]:
                    column["encodings"] = sorted(column["encodings"])
            described["key_value_metadata"] = {
                key.decode(): value.decode() for key, value in (footer.metadata or {}).items()
            }
            return pages + Storage.json_bytes(described)
    return data


def stored_files(storage: Storage) -> dict[str, bytes]:
    """Every object of a root, by key."""
    return {key: storage.read_bytes(key) for key in storage.list_keys("")}


# What a training run records of its own speed: two runs that each trained (not a rerun, which
# keeps a complete run) measure different speeds and must agree on everything else.
SPEED_FIELDS = frozenset(
    {"elapsed_s", "examples_per_s", "tokens_per_s", "sequences_per_s", "seconds_this_attempt"}
)
SPEED_FILES = ("state.json", "metrics.jsonl")  # files holding them, so their digests differ


def without_speeds(key: str, data: bytes) -> bytes:
    """A :func:`comparable` file without the speeds a training run measured (and a manifest
    without the digests of the files holding them)."""
    name = key.rsplit("/", 1)[-1]
    if name.endswith(".jsonl"):
        return b"".join(
            Storage.json_bytes(_speedless(json.loads(line))) for line in data.splitlines()
        )
    if not name.endswith(".json"):
        return data
    document = _speedless(json.loads(data))
    if name == MANIFEST:
        for timed in SPEED_FILES:
            document.get("sha256", {}).pop(timed, None)
    return Storage.json_bytes(document)


def _speedless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _speedless(v) for k, v in value.items() if k not in SPEED_FIELDS}
    if isinstance(value, list):
        return [_speedless(item) for item in value]
    return value
