"""The typed outcome of validating one curated partition, and where it is stored.

This module is free of heavy imports: the gate, which every downstream stage calls, reads
the stored result through it without loading Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from components.core.layout import CURATED_EXPOSURES, QUALITY_EXPOSURES, partition


def result_key(dt: date) -> str:
    return f"{partition(QUALITY_EXPOSURES, dt)}/result.json"


def report_key(dt: date) -> str:
    return f"{partition(QUALITY_EXPOSURES, dt)}/report.html"


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check could not run, e.g. its column is missing
    NOT_EVALUATED = "not_evaluated"  # skipped on purpose, e.g. too little volume history


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, reduced to what a person or a gate needs."""

    expectation_type: str
    columns: tuple[str, ...]
    rule: str  # what was expected, in words
    status: Status
    observed_value: Any = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_examples: tuple[Any, ...] = ()
    details: str | None = None

    @property
    def success(self) -> bool | None:
        if self.status is Status.NOT_EVALUATED:
            return None
        return self.status is Status.PASSED

    @property
    def counts_as_failure(self) -> bool:
        return self.status in (Status.FAILED, Status.ERROR)

    @property
    def label(self) -> str:
        """``expect_x(column)``: the name an engineer greps for."""
        if not self.columns:
            return self.expectation_type
        return f"{self.expectation_type}({', '.join(self.columns)})"

    def summary(self) -> str:
        """One line saying what was expected and what was found."""
        return f"{self.label} [{self.rule}]: {self.finding()}"

    def finding(self) -> str:
        if self.status in (Status.ERROR, Status.NOT_EVALUATED):
            return f"{self.status.value.replace('_', ' ')}: {self.details}"
        if self.unexpected_count is None:
            found = f"observed {self.observed_value}"
        else:
            found = f"unexpected: {self.unexpected_share()}"
            if self.unexpected_examples:
                found += f", e.g. {', '.join(map(str, self.unexpected_examples))}"
        return f"{found}; {self.details}" if self.details else found

    def unexpected_share(self) -> str:
        """``12 (0.4%)``; empty for expectations that do not judge row by row."""
        if self.unexpected_count is None:
            return ""
        share = f"{self.unexpected_count:,}"
        if self.unexpected_percent is not None:
            share += f" ({self.unexpected_percent:.3g}%)"
        return share

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.expectation_type,
            "columns": list(self.columns),
            "rule": self.rule,
            "status": self.status.value,
            "success": self.success,
            "observed_value": self.observed_value,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "unexpected_examples": list(self.unexpected_examples),
            "details": self.details,
        }


@dataclass(frozen=True)
class PartitionResult:
    """The verdict on one curated partition, tied to the exact publication it judged."""

    dt: date
    ds: date  # the run's logical date; it differs from dt for the look-back days
    published_at: str  # from the curated manifest: a later rewrite makes this result stale
    rows: int
    validated_at: str
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if outcome.counts_as_failure]

    @property
    def skipped(self) -> list[ExpectationOutcome]:
        """Checks that were not run, each with why: a pass says nothing about them."""
        return [outcome for outcome in self.outcomes if outcome.status is Status.NOT_EVALUATED]

    def failure_message(self) -> str:
        lines = [f"validation failed for dt={self.dt.isoformat()}:"]
        lines += [f"  {outcome.summary()}" for outcome in self.failures]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "partition": partition(CURATED_EXPOSURES, self.dt),
            "dt": self.dt.isoformat(),
            "ds": self.ds.isoformat(),
            "published_at": self.published_at,
            "rows": self.rows,
            "validated_at": self.validated_at,
            "failed_expectations": [outcome.label for outcome in self.failures],
            "skipped_expectations": [
                {"expectation": outcome.label, "rule": outcome.rule, "why": outcome.details}
                for outcome in self.skipped
            ],
            "statistics": {
                status.value: sum(o.status is status for o in self.outcomes) for status in Status
            },
            "expectations": [outcome.to_json() for outcome in self.outcomes],
        }
