"""The check every downstream stage makes before it reads a curated partition.

A partition is consumable only while a passing validation result exists for exactly the
publication that is committed now. Extract rewrites the look-back days on every run, so a
result recorded for an earlier publication says nothing about the current files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from components.core.errors import BadInput
from components.core.layout import CURATED_EXPOSURES, partition
from components.core.partitions import PartitionNotPublished, is_published, read_manifest
from components.core.storage import Storage
from components.validate.result import result_key

log = logging.getLogger(__name__)


class Refusal(StrEnum):
    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"


class PartitionFailedValidation(BadInput):
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


def validated_history(storage: Storage, days: Sequence[date]) -> list[date]:
    """``days`` from the first committed curated partition on, each one validated.

    The history every multi-day reader (features, training sets, collaborative vectors) uses.

    Days before the first committed partition precede the shop's history, so windows that
    reach back there are shorter. From it on, a missing partition is an error like a failed one:
    a gap would silently lower every count.
    """
    committed = [day for day in days if is_published(storage, partition(CURATED_EXPOSURES, day))]
    if not committed:
        raise PartitionNotPublished(
            f"no curated partition is published for {days[0]}..{days[-1]} under "
            f"{storage.uri(CURATED_EXPOSURES)}; run `adagrpo extract --ds {days[-1]}` and "
            f"`adagrpo validate --ds {days[-1]}` first"
        )
    history = [day for day in days if day >= committed[0]]
    if history[0] > days[0]:
        log.info("curated history starts on %s: earlier windows are shorter", history[0])
    for day in history:
        require_validated(storage, day)
    return history
