"""The hidden truth, written apart from the logs: enough to compute any (user, item) relevance.

Training never reads it; analysis uses it to measure how wrong the logged signals are.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa

from components.core.schemas import UTC_MICROS
from components.simulate.feedback import RELEVANCE_FORMULA
from components.simulate.params import ShopParams
from components.simulate.world import World


def truth_files(
    world: World, days: int, params: ShopParams
) -> dict[str, pa.Table | dict[str, Any]]:
    """The folder's files: users, items (all created within ``days`` of the opening), params."""
    return {
        "users.parquet": _users(world),
        "items.parquet": _items(world),
        "params.json": {
            "seed": world.seed,
            "scale": asdict(world.scale),
            "start": world.start.isoformat(),
            "days": days,
            "relevance_formula": RELEVANCE_FORMULA,
            "examination": "position ** -examination_decay",
            **asdict(params),
        },
    }


def _vectors(matrix: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1])


def _users(world: World) -> pa.Table:
    users = world.users
    used = users.favourites >= 0
    favourites = pa.ListArray.from_arrays(
        np.concatenate([[0], np.cumsum(used.sum(axis=1))]).astype(np.int32),
        world.taxonomy.names.take(users.favourites[used]),
    )
    return pa.table(
        {
            "user_id": users.ids,
            "activity": users.activity,
            "favourite_categories": favourites,
            "latent": _vectors(users.latent),
        }
    )


def _items(world: World) -> pa.Table:
    items = world.items
    return pa.table(
        {
            "item_id": items.ids,
            "category": world.taxonomy.names.take(items.category),
            "brand": world.taxonomy.brand_names.take(items.brand),
            "quality": items.quality,
            "popularity_prior": items.popularity,
            "created_at": pa.array(items.created_us, UTC_MICROS),
            "latent": _vectors(items.latent),
        }
    )
