"""The item catalog as the shop lists it: generated titles, brand, category and price."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.core.schemas import CATALOG, UTC_MICROS
from components.simulate.vocabulary import ADJECTIVES, VARIANTS
from components.simulate.world import World

_ADJECTIVES = pa.array(ADJECTIVES)
_VARIANTS = pa.array(VARIANTS)


def catalog_table(world: World) -> pa.Table:
    """Every item of the world, in id (= creation) order; a day's snapshot is a prefix."""
    items, taxonomy = world.items, world.taxonomy
    brand = taxonomy.brand_names.take(items.brand)
    title = pc.binary_join_element_wise(
        brand,
        _ADJECTIVES.take(items.adjective),
        taxonomy.nouns.take(items.noun),
        _VARIANTS.take(items.variant),
        " ",
    )
    return pa.Table.from_arrays(
        [
            items.ids,
            title,
            taxonomy.names.take(items.category),
            brand,
            items.price.astype(np.float64),
            pa.array(items.created_us, UTC_MICROS),
        ],
        schema=CATALOG,
    )


def snapshot(catalog: pa.Table, world: World, day: int) -> pa.Table:
    """The catalog at the end of ``day``: every item created on or before it."""
    return catalog.slice(0, world.items.listed_on(day))
