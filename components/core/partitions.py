"""Publish protocol for partitions: write aside, then commit with a manifest marker.

A partition is visible to readers only while its ``_MANIFEST.json`` exists. The manifest is
written into the staging folder last and travels with the data (one rename on a local root; on
S3 the old marker leaves first and the new one arrives last), so a crash or a concurrent
publisher at any point leaves either a committed partition whose manifest describes exactly its
files, or none, never half of one. Files published from memory carry their sha256 in the
manifest, and :func:`read_verified` refuses a file that no longer matches it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from components.core import leftovers
from components.core.errors import BadInput, MissingInput
from components.core.layout import partition
from components.core.storage import Storage
from components.stages import producer_hint

MANIFEST = "_MANIFEST.json"


class PartitionNotPublished(MissingInput):
    """A stage asked for a partition that no upstream stage has committed."""


class ArtifactIntegrityError(BadInput):
    """A stored file does not match the sha256 its manifest or config recorded."""


def publish(storage: Storage, staging: str, target: str, manifest: dict[str, Any]) -> None:
    """Atomically replace ``target`` with the contents of ``staging``."""
    paths = (key[len(staging) + 1 :] for key in storage.list_keys(staging))
    # Relative paths (a dataset has train/, valid/, test/); skip .crc files and markers.
    files = [path for path in paths if not path.rsplit("/", 1)[-1].startswith((".", "_"))]
    storage.write_json(
        f"{staging}/{MANIFEST}",
        {**manifest, "files": sorted(files), "published_at": datetime.now(UTC).isoformat()},
    )
    storage.replace_prefix(staging, target)
    leftovers.sweep_staging(storage)


def publish_files(
    storage: Storage,
    target: str,
    files: Mapping[str, pa.Table | dict[str, Any] | bytes],
    manifest: dict[str, Any],
) -> None:
    """Publish a folder of Parquet tables, JSON documents and raw files under ``target``, with
    the sha256 of each in the manifest."""
    staging = storage.staging_key("publish")
    digests = {}
    for name, content in files.items():
        data = _serialized(content)
        storage.write_bytes(f"{staging}/{name}", data)
        digests[name] = hashlib.sha256(data).hexdigest()
    publish(storage, staging, target, {**manifest, "sha256": digests})


def publish_day(
    storage: Storage,
    dataset: str,
    ds: date,
    producer: str,
    files: Mapping[str, pa.Table | dict[str, Any] | bytes],
    **facts: Any,
) -> None:
    """Publish ``files`` as the partition of ``dataset`` for the logical date ``ds``, the
    manifest naming the producer, the day and any other ``facts``."""
    target = partition(dataset, ds)
    publish_files(storage, target, files, {"producer": producer, "ds": ds.isoformat(), **facts})


def _serialized(content: pa.Table | dict[str, Any] | bytes) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, pa.Table):
        return Storage.parquet_bytes(content)
    return Storage.json_bytes(content)


def read_verified(storage: Storage, target: str, name: str, manifest: dict[str, Any]) -> bytes:
    """The bytes of ``target/name`` after checking them against ``manifest``'s sha256."""
    key = f"{target}/{name}"
    recorded = manifest.get("sha256", {}).get(name)
    if recorded is None:
        raise ArtifactIntegrityError(
            f"{storage.uri(key)} has no recorded sha256 (published by an older version); "
            "publish it again"
        )
    data = storage.read_bytes(key)
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded:
        raise ArtifactIntegrityError(
            f"{storage.uri(key)}: sha256 {actual} != {recorded} recorded in its manifest; the "
            "file changed after it was published, refusing to use it"
        )
    return data


def verify_files(storage: Storage, target: str) -> dict[str, Any]:
    """Check every file ``target``'s manifest holds a sha256 for; the manifest."""
    manifest = read_manifest(storage, target)
    for name in manifest.get("sha256", {}):
        read_verified(storage, target, name, manifest)
    return manifest


def require_published(storage: Storage, targets: Iterable[str]) -> None:
    """Raise, naming every one of ``targets`` that is not published."""
    missing = [target for target in targets if not is_published(storage, target)]
    if missing:
        raise PartitionNotPublished(
            f"not published under {storage.uri('')}: {', '.join(missing)}"
            f"{producer_hint(missing[0])}"
        )


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
        raise PartitionNotPublished(
            f"partition {storage.uri(target)} is not published{producer_hint(target)}"
        )
    manifest: dict[str, Any] = storage.read_json(key)
    return manifest
