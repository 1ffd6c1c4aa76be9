"""Timestamps as integer microseconds since the epoch, UTC, the unit of the ``ts`` column."""

from __future__ import annotations

from datetime import UTC, date, datetime

DAY_US = 86_400 * 1_000_000


def epoch_us(day: date) -> int:
    """Midnight UTC starting ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
