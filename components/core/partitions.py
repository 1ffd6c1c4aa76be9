"""Publish protocol for partitions: write aside, then commit with a manifest marker.

A partition is visible to readers only while its ``_MANIFEST.json`` exists. Publishing removes
the marker first, swaps the data in, then writes the new marker last, so a crash at any point
leaves either the old committed partition or no committed partition, never half of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from components.core.storage import Storage

MANIFEST = "_MANIFEST.json"


class PartitionNotPublished(FileNotFoundError):
    """A stage asked for a partition that no upstream stage has committed."""


def publish(storage: Storage, staging: str, target: str, manifest: dict[str, Any]) -> None:
    """Atomically replace ``target`` with the contents of ``staging``."""
    storage.delete(f"{target}/{MANIFEST}")
    storage.replace_prefix(staging, target)
    paths = (key[len(target) + 1 :] for key in storage.list_keys(target))
    # Relative paths (a dataset has train/, valid/, test/); skip .crc files and markers.
    files = [path for path in paths if not path.rsplit("/", 1)[-1].startswith((".", "_"))]
    storage.write_json(
        f"{target}/{MANIFEST}",
        {**manifest, "files": sorted(files), "published_at": datetime.now(UTC).isoformat()},
    )


def publish_files(
    storage: Storage,
    target: str,
    files: dict[str, pa.Table | dict[str, Any] | bytes],
    manifest: dict[str, Any],
) -> None:
    """Publish a folder of Parquet tables, JSON documents and raw files under ``target``."""
    staging = storage.staging_key("publish")
    for name, content in files.items():
        if isinstance(content, pa.Table):
            storage.write_parquet(f"{staging}/{name}", content)
        elif isinstance(content, bytes):
            storage.write_bytes(f"{staging}/{name}", content)
        else:
            storage.write_json(f"{staging}/{name}", content)
    publish(storage, staging, target, manifest)


def require_published(storage: Storage, targets: Iterable[str]) -> None:
    """Raise, naming every one of ``targets`` that is not published."""
    missing = [target for target in targets if not is_published(storage, target)]
    if missing:
        raise PartitionNotPublished(f"not published under {storage.uri('')}: {', '.join(missing)}")


def is_published(storage: Storage, target: str) -> bool:
    return storage.exists(f"{target}/{MANIFEST}")


def published_files(storage: Storage, target: str) -> list[str]:
    """Locations of exactly the files the committed manifest of ``target`` lists.

    Readers that checked a partition (for instance through the validation gate) read these
    rather than the folder, so a republish racing the read is never picked up unchecked.
    """
    return [storage.uri(f"{target}/{name}") for name in read_manifest(storage, target)["files"]]


def read_manifest(storage: Storage, target: str) -> dict[str, Any]:
    """The committed manifest of ``target``; raises if the partition is not published."""
    key = f"{target}/{MANIFEST}"
    if not storage.exists(key):
        raise PartitionNotPublished(f"partition {storage.uri(target)} is not published")
    manifest: dict[str, Any] = storage.read_json(key)
    return manifest
