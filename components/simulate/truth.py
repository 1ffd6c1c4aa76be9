"""The hidden truth, written apart from the logs: enough to compute any (user, item) relevance.

Training never reads it; analysis reads ``truth/`` to measure how wrong the logged signals are.
The world over a longer horizon extends the shorter one (same users, more items), so one folder
serves every day: it is rewritten only by a run that reaches further than the published truth,
or that simulates another shop. A daily run or a backfill of an earlier window therefore never
drops items that a longer run wrote, and ``params.json`` says how many days the truth covers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa

from components.core import layout, partitions
from components.core.schemas import UTC_MICROS
from components.core.storage import Storage
from components.simulate.feedback import RELEVANCE_FORMULA
from components.simulate.world import World

log = logging.getLogger("adagrpo.simulate")
PARAMS = f"{layout.TRUTH}/params.json"


def publish_truth(
    storage: Storage, world: World, horizon: int, knobs: dict[str, Any], producer: str
) -> None:
    """Publish the truth of ``world`` over ``horizon`` days unless the published one covers it.

    ``knobs`` are the shop's behavioural parameters, as recorded in ``params.json``.
    """
    params = {
        "seed": world.seed,
        "scale": asdict(world.scale),
        "start": world.start.isoformat(),
        "days": horizon,
        "relevance_formula": RELEVANCE_FORMULA,
        "examination": "position ** -examination_decay",
        **knobs,
    }
    published = _published_params(storage)
    if published and _same_shop(published, params) and published["days"] >= horizon:
        log.info("kept the truth of %d days: it covers this run's %d", published["days"], horizon)
        return
    partitions.publish_files(
        storage,
        layout.TRUTH,
        {"users.parquet": _users(world), "items.parquet": _items(world), "params.json": params},
        {"producer": producer, "seed": world.seed, "scale": world.scale.name},
    )


def _published_params(storage: Storage) -> dict[str, Any] | None:
    """The committed truth's parameters; None when there is none (or replay wrote it)."""
    if not partitions.is_published(storage, layout.TRUTH) or not storage.exists(PARAMS):
        return None
    params: dict[str, Any] = storage.read_json(PARAMS)
    return params


def _same_shop(published: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether both describe one world (seed, scale, start, knobs), whatever their horizons."""
    normalized = json.loads(json.dumps(params))  # tuples become lists, as they were stored
    return {**published, "days": None} == {**normalized, "days": None}


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
