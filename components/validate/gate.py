"""The check every downstream stage makes before it reads a curated partition.

A partition is consumable only while a passing validation result exists for exactly the
publication that is committed now. Extract rewrites the look-back days on every run, so a
result recorded for an earlier publication says nothing about the current files.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from components.core.layout import CURATED_EXPOSURES, partition
from components.core.partitions import read_manifest
from components.core.storage import Storage
from components.validate.result import result_key


class Refusal(StrEnum):
    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"


class PartitionFailedValidation(ValueError):
    """A curated partition has no fresh, passing validation result.

    A ``ValueError`` so that the CLI reports it as one line of bad input, not a traceback.
    """

    def __init__(self, dt: date, reason: Refusal, detail: str) -> None:
        super().__init__(f"curated partition dt={dt.isoformat()} may not be consumed: {detail}")
        self.dt = dt
        self.reason = reason


def require_validated(storage: Storage, dt: date) -> dict[str, Any]:
    """The curated manifest of ``dt``, if its current publication passed validation.

    Raises ``PartitionNotPublished`` when the partition itself is not committed, and
    ``PartitionFailedValidation`` when its result is missing, failed or stale.
    """
    manifest = read_manifest(storage, partition(CURATED_EXPOSURES, dt))
    key = result_key(dt)
    if not storage.exists(key):
        raise PartitionFailedValidation(
            dt, Refusal.MISSING, f"no validation result at {storage.uri(key)}"
        )
    result = storage.read_json(key)
    if result.get("published_at") != manifest["published_at"]:
        raise PartitionFailedValidation(
            dt,
            Refusal.STALE,
            f"the result validated the publication of {result.get('published_at')}, but the "
            f"partition was republished at {manifest['published_at']}; validate it again",
        )
    if result.get("success") is not True:
        failed = ", ".join(result.get("failed_expectations", []))
        raise PartitionFailedValidation(
            dt, Refusal.FAILED, f"validation failed ({failed}); see {storage.uri(key)}"
        )
    return manifest
