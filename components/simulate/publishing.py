"""The raw partitions both producers write, committed with the protocol of ``core.partitions``."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from components.core import layout, partitions
from components.core.schemas import RAW_EXPOSURE
from components.core.storage import Storage


class PartitionWriter:
    """Collects the part files of one daily partition, then publishes them at once."""

    def __init__(
        self, storage: Storage, dataset: str, dt: date, schema: pa.Schema, producer: str
    ) -> None:
        self.storage, self.dataset, self.dt = storage, dataset, dt
        self.schema, self.producer = schema, producer
        self.staging = storage.staging_key(producer)
        self.parts = self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            key = f"{self.staging}/part-{self.parts:05d}.parquet"
            self.storage.write_parquet(key, table)
            self.parts += 1
            self.rows += table.num_rows

    def publish(self) -> None:
        if not self.parts:  # an empty day is still a day: readers get its schema
            self.storage.write_parquet(
                f"{self.staging}/part-00000.parquet", self.schema.empty_table()
            )
        partitions.publish(
            self.storage,
            self.staging,
            layout.partition(self.dataset, self.dt),
            {"rows": self.rows, "producer": self.producer, "dt": self.dt.isoformat()},
        )


def exposure_writer(storage: Storage, dt: date, producer: str) -> PartitionWriter:
    return PartitionWriter(storage, layout.RAW_EXPOSURES, dt, RAW_EXPOSURE, producer)


def publish_catalog(storage: Storage, dt: date, catalog: pa.Table, producer: str) -> None:
    partitions.publish_files(
        storage,
        layout.partition(layout.RAW_CATALOG, dt),
        {"catalog.parquet": catalog},
        {"producer": producer, "dt": dt.isoformat(), "rows": catalog.num_rows},
    )
