"""Data contracts between stages, as Arrow schemas (the single source for column names/types)."""

from __future__ import annotations

import pyarrow as pa

UTC_MICROS = pa.timestamp("us", tz="UTC")

RAW_EXPOSURE = pa.schema(
    [
        ("event_id", pa.int64()),
        ("request_id", pa.int64()),
        ("user_id", pa.int64()),
        ("item_id", pa.int64()),
        ("ts", UTC_MICROS),
        ("position", pa.int32()),  # 1 is the top of the slate
        ("surface", pa.string()),
        ("logging_score", pa.float64()),
        ("clicked", pa.bool_()),
        ("purchased", pa.bool_()),
        ("dwell_ms", pa.int64()),
        ("experiment_id", pa.string()),
        ("arm", pa.string()),
    ]
)

CATALOG = pa.schema(
    [
        ("item_id", pa.int64()),
        ("title", pa.string()),  # text columns may be empty (replayed data has no brands)
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("created_at", UTC_MICROS),
    ]
)

# Curated exposures: the raw event joined with the catalog's item attributes.
CURATED_EXPOSURE = pa.schema(
    [
        *RAW_EXPOSURE,
        ("category", pa.string()),
        ("brand", pa.string()),
        ("price", pa.float64()),
        ("item_age_days", pa.int32()),
    ]
)

KEY_COLUMNS = ("event_id", "request_id", "user_id", "item_id", "ts")
