"""Entities and feature views of the pipeline's Feast feature repository.

Laid out like a Feast repo's definitions file, except that the feature views are built by a
function: their sources live under the run's storage root and their windows are configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import pyarrow as pa
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.feast_object import FeastObject
from feast.types import Float64, Int32, Int64, PrimitiveFeastType, String

from components.features.schema import EVENT_TIMESTAMP, STATS_VIEWS, StatsView

user = Entity(
    name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="A shopper"
)
item = Entity(
    name="item", join_keys=["item_id"], value_type=ValueType.INT64, description="A catalog item"
)
ENTITIES = {entity.name: entity for entity in (user, item)}

# A snapshot holds until the next day's replaces it. An entity left out of the newest snapshot
# (no activity in any window) then gets no features, rather than a stale snapshot's.
SNAPSHOT_TTL = timedelta(days=1)

FEAST_TYPES: dict[pa.DataType, PrimitiveFeastType] = {
    pa.int32(): Int32,
    pa.int64(): Int64,
    pa.float64(): Float64,
    pa.string(): String,
}


def stats_feature_view(view: StatsView, source_path: str, windows: Sequence[int]) -> FeatureView:
    """The Feast view of ``view``'s daily snapshots, read from the folder ``source_path``."""
    entity = ENTITIES[view.entity]
    return FeatureView(
        name=view.name,
        entities=[entity],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name=view.join_key, dtype=Int64),
            *(
                Field(name=name, dtype=FEAST_TYPES[dtype])
                for name, dtype in view.features(windows).items()
            ),
        ],
        source=FileSource(
            name=f"{view.name}_snapshots",
            path=source_path,
            timestamp_field=EVENT_TIMESTAMP,
            description=f"Daily {view.name} snapshots computed by Spark",
        ),
        online=True,
        description=view.description,
        tags={"windows_days": ",".join(map(str, windows))},
    )


def repo_objects(source_paths: Mapping[str, str], windows: Sequence[int]) -> list[FeastObject]:
    """Everything ``apply`` registers; ``source_paths`` maps each view to its source folder."""
    views = [stats_feature_view(view, source_paths[view.name], windows) for view in STATS_VIEWS]
    return [user, item, *views]
