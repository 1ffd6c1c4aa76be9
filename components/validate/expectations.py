"""The curated-exposure suite, kept as code: the one place that says what a good partition is.

Each expectation carries a ``description`` that states the rule in words; reports and error
messages quote it, so a reader never has to decode the expectation's arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import great_expectations as gx
import great_expectations.expectations as gxe
import pyarrow as pa

from components.core.config import ValidationConfig
from components.core.schemas import CURATED_EXPOSURE, KEY_COLUMNS
from components.validate.baseline import MIN_TRAILING_DAYS, VolumeBaseline
from components.validate.custom_expectations import (
    ExpectColumnTrueShareToBeBetween,
    ExpectColumnValuesToBeInIdSet,
)
from components.validate.result import ExpectationOutcome, Status

# The name an engine's type check observes for a column stored as an Arrow type.
TypeName = Callable[[pa.DataType], str]


@dataclass(frozen=True)
class CuratedSuite:
    suite: gx.ExpectationSuite
    not_evaluated: tuple[ExpectationOutcome, ...]  # checks decided before GX runs


def build_suite(
    dt: date,
    config: ValidationConfig,
    known_item_ids: Collection[int],
    manifest_rows: int,
    volume: VolumeBaseline,
    type_name: TypeName,
) -> CuratedSuite:
    """The suite for the curated partition of ``dt``, its type checks named as the engine that
    runs it (``type_name``) sees them."""
    expectations = [
        *_schema_expectations(type_name),
        *_content_expectations(dt, config, known_item_ids),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, description="at least one row"),
        gxe.ExpectTableRowCountToEqual(
            value=manifest_rows,
            description=f"{manifest_rows:,} rows, as the manifest says (the volume baseline "
            "of later days trusts it)",
        ),
    ]
    not_evaluated: list[ExpectationOutcome] = []
    if volume.median is None:
        not_evaluated.append(_volume_not_evaluated(config, volume))
    else:
        expectations.append(_volume_expectation(config, volume, volume.median))
    # The constructor, unlike add_expectation, neither needs a live context nor compares each
    # new expectation with all others (slow with a catalog-sized value set).
    suite = gx.ExpectationSuite(
        name=f"curated_exposures_{dt.isoformat()}", expectations=expectations
    )
    return CuratedSuite(suite, tuple(not_evaluated))


def _schema_expectations(type_name: TypeName) -> list[gxe.Expectation]:
    columns = CURATED_EXPOSURE.names
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=columns,
            exact_match=True,
            description=f"exactly the {len(columns)} columns of the curated exposure contract",
        ),
        *(
            gxe.ExpectColumnValuesToBeOfType(
                column=field.name,
                type_=type_name(field.type),
                description=f"{field.name} is {field.type}",
            )
            for field in CURATED_EXPOSURE
        ),
    ]


def _content_expectations(
    dt: date, config: ValidationConfig, known_item_ids: Collection[int]
) -> list[gxe.Expectation]:
    day_start = datetime.combine(dt, time(), tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    return [
        *(
            gxe.ExpectColumnValuesToNotBeNull(column=key, description=f"{key} is never null")
            for key in KEY_COLUMNS
        ),
        gxe.ExpectColumnValuesToBeUnique(column="event_id", description="event_id is unique"),
        # The same rule as "between 1 and max_position" for integers, but GX checks a set with
        # one vectorized isin, while its range check loops in Python over int32 columns.
        gxe.ExpectColumnValuesToBeInSet(
            column="position",
            value_set=list(range(1, config.max_position + 1)),
            description=f"position in 1..{config.max_position}",
        ),
        # Booleans order False < True, so "clicked >= purchased" reads "purchase implies click".
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="clicked",
            column_B="purchased",
            or_equal=True,
            description="a purchase implies a click",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="dwell_ms", min_value=0, description="dwell_ms >= 0"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="ts",
            min_value=day_start,
            max_value=day_end,
            strict_max=True,
            description=f"ts inside the event day [{day_start.isoformat()}, {day_end.isoformat()})",
        ),
        # GX re-serializes a value set some 80 times per run: a fixed ~60 ms per 1,000 items.
        ExpectColumnValuesToBeInIdSet(
            column="item_id",
            value_set=sorted(known_item_ids),
            description=f"item_id in the catalog snapshot of {dt.isoformat()} "
            f"({len(known_item_ids):,} items)",
        ),
        ExpectColumnTrueShareToBeBetween(
            column="clicked",
            min_value=config.ctr_min,
            max_value=config.ctr_max,
            description=f"click-through rate in [{config.ctr_min:g}, {config.ctr_max:g}]",
        ),
    ]


def _volume_rule(config: ValidationConfig, volume: VolumeBaseline) -> str:
    return (
        f"rows within {config.volume_min_ratio:g}x..{config.volume_max_ratio:g}x the median of "
        f"the validated trailing {volume.trailing_days} days"
    )


def _volume_expectation(
    config: ValidationConfig, volume: VolumeBaseline, median: float
) -> gxe.Expectation:
    # Row counts are whole: rounding the bounds inwards keeps the same rule.
    low = math.ceil(config.volume_min_ratio * median)
    high = math.floor(config.volume_max_ratio * median)
    return gxe.ExpectTableRowCountToBeBetween(
        min_value=low,
        max_value=high,
        description=f"{_volume_rule(config, volume)} ({median:,.0f}): {low:,}..{high:,}",
    )


def _volume_not_evaluated(config: ValidationConfig, volume: VolumeBaseline) -> ExpectationOutcome:
    return ExpectationOutcome(
        expectation_type=gxe.ExpectTableRowCountToBeBetween.expectation_type,
        columns=(),
        rule=_volume_rule(config, volume),
        status=Status.NOT_EVALUATED,
        details=f"only {len(volume.row_counts)} of the trailing {volume.trailing_days} days "
        f"passed validation; {MIN_TRAILING_DAYS} are needed",
    )
