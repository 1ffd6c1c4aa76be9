"""Hand-made raw logs and catalogs for tests that need exact control over every row."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa

from components.core import layout, partitions
from components.core.schemas import CATALOG, RAW_EXPOSURE
from components.core.storage import Storage


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def exposure(event_id: int, ts: datetime, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "request_id": event_id // 10,
        "user_id": 1,
        "item_id": 1,
        "ts": ts,
        "position": 1,
        "surface": "home",
        "logging_score": 0.5,
        "clicked": False,
        "purchased": False,
        "dwell_ms": 0,
        "experiment_id": "exp",
        "arm": "control",
    }
    row.update(fields)
    return row


def publish_raw_day(
    storage: Storage,
    arrival_day: date,
    rows: list[dict[str, Any]],
    retype: dict[str, pa.DataType] | None = None,
) -> None:
    """Publish ``rows`` as a raw partition; ``retype`` stores columns with another type than
    the contract's, as a faulty producer would."""
    key = layout.partition(layout.RAW_EXPOSURES, arrival_day)
    staging = storage.staging_key("test-raw")
    table = pa.Table.from_pylist(rows, RAW_EXPOSURE)
    for name, data_type in (retype or {}).items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(data_type))
    storage.write_parquet(f"{staging}/part-00000.parquet", table)
    partitions.publish(storage, staging, key, {"rows": len(rows), "producer": "test"})


def publish_catalog(storage: Storage, day: date, item_ids: list[int]) -> None:
    rows = [
        {
            "item_id": item_id,
            "title": f"item {item_id}",
            "category": f"cat{item_id % 3}",
            "brand": "acme",
            "price": 9.5,
            "created_at": at(day - timedelta(days=item_id % 5), 0),
        }
        for item_id in item_ids
    ]
    staging = storage.staging_key("test-catalog")
    storage.write_parquet(f"{staging}/catalog.parquet", pa.Table.from_pylist(rows, CATALOG))
    partitions.publish(
        storage, staging, layout.partition(layout.RAW_CATALOG, day), {"rows": len(rows)}
    )
