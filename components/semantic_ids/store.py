"""Where semantic IDs live under the storage root, and how each piece is read and written.

```
sids/CURRENT.json                      the newest codebook version: {version, fitted_on}
sids/v=<n>/codebook.safetensors        basis + whitening + quantizer weights
sids/v=<n>/fit.json                    settings, fit date, quantization error, code statistics,
                                       sha256 of the codebook (verified on load)
sids/v=<n>/map/dt=<ds>/                published: sid_map.parquet, report.json, report.html
```

A new version is committed by writing ``CURRENT.json`` last: a run that dies before that leaves
an unreferenced folder that the next fit of the same version number replaces. So versions
1..CURRENT were each current once, and since only the latest mapped day refits, they were
fitted in date order: the version of a day is the newest one fitted on or before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pyarrow as pa

from components.core.errors import BadInput
from components.core.layout import SIDS, partition
from components.core.partitions import MANIFEST, publish_files, read_manifest
from components.core.storage import Storage
from components.semantic_ids.codebook import Codebook
from components.semantic_ids.sidmap import SidTable

CURRENT_KEY = f"{SIDS}/CURRENT.json"
MAP_FILE = "sid_map.parquet"
FIT_FIELDS = (
    "version",
    "fitted_on",
    "reasons",
    "settings",
    "items",
    "levels",
    "codes_per_level",
    "dedup_vocab",
    "quantization_error",
    "codebook_sha256",
)

T = TypeVar("T")


class BrokenRecord(BadInput):
    """A JSON file of the stage is truncated or lacks a field (a ValueError: bad input)."""


@dataclass(frozen=True)
class CurrentVersion:
    version: int
    fitted_on: date


def version_prefix(version: int) -> str:
    return f"{SIDS}/v={version}"


def map_partition(version: int, ds: date) -> str:
    return partition(f"{version_prefix(version)}/map", ds)


def read_current(storage: Storage) -> CurrentVersion | None:
    if not storage.exists(CURRENT_KEY):
        return None
    return _read_record(
        storage,
        CURRENT_KEY,
        lambda pointer: CurrentVersion(
            int(pointer["version"]), date.fromisoformat(pointer["fitted_on"])
        ),
    )


def write_current(storage: Storage, current: CurrentVersion) -> None:
    storage.write_json(
        CURRENT_KEY, {"version": current.version, "fitted_on": current.fitted_on.isoformat()}
    )


def version_on(storage: Storage, ds: date) -> CurrentVersion | None:
    """The version in use on ``ds``: the newest fitted on or before it (None: none was)."""
    version = read_current(storage)
    while version is not None and version.fitted_on > ds:
        if version.version == 1:
            return None
        older = read_fit_record(storage, version.version - 1)
        version = CurrentVersion(version.version - 1, date.fromisoformat(older["fitted_on"]))
    return version


def save_codebook(
    storage: Storage, version: int, codebook: Codebook, fit_record: dict[str, Any]
) -> None:
    data = codebook.to_bytes()
    storage.write_bytes(f"{version_prefix(version)}/codebook.safetensors", data)
    storage.write_json(
        f"{version_prefix(version)}/fit.json",
        {**fit_record, "codebook_sha256": hashlib.sha256(data).hexdigest()},
    )


def read_fit_record(storage: Storage, version: int) -> dict[str, Any]:
    def parse(record: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in FIT_FIELDS if name not in record]
        if missing:
            raise KeyError(", ".join(missing))
        date.fromisoformat(record["fitted_on"])
        return record

    return _read_record(storage, f"{version_prefix(version)}/fit.json", parse)


def load_codebook(storage: Storage, version: int) -> tuple[Codebook, dict[str, Any]]:
    """The codebook of ``version`` and its fit record; the weights' sha256 is verified."""
    fit_record = read_fit_record(storage, version)
    key = f"{version_prefix(version)}/codebook.safetensors"
    data = storage.read_bytes(key)
    if hashlib.sha256(data).hexdigest() != fit_record["codebook_sha256"]:
        raise BadInput(f"{storage.uri(key)} does not match the sha256 recorded in fit.json")
    return Codebook.from_bytes(data), fit_record


def publish_map(
    storage: Storage,
    version: int,
    ds: date,
    table: SidTable,
    manifest: dict[str, Any],
    attachments: dict[str, bytes],
) -> str:
    """Publish the map of ``ds`` with its report files; returns the partition's key."""
    target = map_partition(version, ds)
    publish_files(storage, target, {MAP_FILE: table.to_arrow(), **attachments}, manifest)
    return target


def read_map(storage: Storage, version: int, ds: date) -> tuple[pa.Table, dict[str, Any]]:
    """The committed map of ``ds`` in ``version`` and its manifest (raises if not published)."""
    target = map_partition(version, ds)
    manifest = read_manifest(storage, target)
    return storage.read_parquet(f"{target}/{MAP_FILE}"), manifest


def map_dates(storage: Storage, version: int) -> list[date]:
    """Days with a committed map in ``version``, oldest first."""
    prefix = f"{version_prefix(version)}/map/dt="
    return sorted(
        date.fromisoformat(key[len(prefix) :].split("/", 1)[0])
        for key in storage.list_keys(f"{version_prefix(version)}/map")
        if key.startswith(prefix) and key.endswith(f"/{MANIFEST}")
    )


def _read_record(storage: Storage, key: str, parse: Callable[[Any], T]) -> T:
    """``parse`` of the JSON at ``key``; a truncated or hand-edited file is named in the error
    instead of surfacing later as a KeyError."""
    try:
        return parse(storage.read_json(key))
    except KeyError as exc:
        raise BrokenRecord(f"{storage.uri(key)} lacks {exc.args[0]}; restore it") from exc
    except (TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise BrokenRecord(
            f"{storage.uri(key)} is truncated or malformed ({exc}); restore it"
        ) from exc
