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
from components.core.errors import BadInput
from components.core.schemas import UTC_MICROS
from components.core.storage import Storage
from components.simulate.feedback import RELEVANCE_FORMULA, FeedbackModel
from components.simulate.world import World

log = logging.getLogger("adagrpo.simulate")
PARAMS = f"{layout.TRUTH}/{layout.TRUTH_PARAMS}"


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
        {
            layout.TRUTH_USERS: _users(world),
            layout.TRUTH_ITEMS: _items(world),
            layout.TRUTH_PARAMS: params,
        },
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


class TrueRelevance:
    """What the simulated users would really click: P(click | examined) of (user, item) pairs,
    from the published truth. For analysis only; training never reads it."""

    def __init__(
        self,
        user_ids: np.ndarray,
        user_latent: np.ndarray,
        item_ids: np.ndarray,
        item_latent: np.ndarray,
        item_quality: np.ndarray,
        feedback: FeedbackModel,
    ) -> None:
        user_order, item_order = np.argsort(user_ids), np.argsort(item_ids)
        self.user_ids, self.user_latent = user_ids[user_order], user_latent[user_order]
        self.item_ids, self.item_latent = item_ids[item_order], item_latent[item_order]
        self.item_quality = item_quality[item_order]
        self.feedback = feedback

    @classmethod
    def load(cls, storage: Storage) -> TrueRelevance | None:
        """The simulator's truth; None where there is none (replayed real data)."""
        params = _published_params(storage)
        if params is None:
            return None
        users = storage.read_parquet(f"{layout.TRUTH}/{layout.TRUTH_USERS}", ["user_id", "latent"])
        items = storage.read_parquet(
            f"{layout.TRUTH}/{layout.TRUTH_ITEMS}", ["item_id", "latent", "quality"]
        )
        return cls(
            np.asarray(users.column("user_id"), dtype=np.int64),
            _matrix(users.column("latent")),
            np.asarray(items.column("item_id"), dtype=np.int64),
            _matrix(items.column("latent")),
            np.asarray(items.column("quality"), dtype=np.float64),
            FeedbackModel(**params["feedback"]),
        )

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(n,) the true relevance of each (user, item) pair."""
        user_rows, item_rows = self._rows(self.user_ids, users), self._rows(self.item_ids, items)
        return self.feedback.relevance(
            self.user_latent[user_rows],
            self.item_latent[item_rows][:, None, :],
            self.item_quality[item_rows][:, None],
        )[:, 0]

    def matrix(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(len(users), len(items)) the true relevance of every user for every item."""
        user_rows, item_rows = self._rows(self.user_ids, users), self._rows(self.item_ids, items)
        latent = np.broadcast_to(
            self.item_latent[item_rows], (len(users), *self.item_latent[item_rows].shape)
        )
        quality = np.broadcast_to(self.item_quality[item_rows], (len(users), len(items)))
        return self.feedback.relevance(self.user_latent[user_rows], latent, quality)

    def of_lists(self, users: np.ndarray, lists: np.ndarray, found: np.ndarray) -> np.ndarray:
        """(n,) the mean true relevance of each user's list of items ``lists`` (n, K), where
        ``found`` marks real items (a slot without one counts 0)."""
        return np.asarray(self._slots(users, lists, found).mean(1))

    def click_rate(self, users: np.ndarray, lists: np.ndarray, found: np.ndarray) -> np.ndarray:
        """(n,) the expected clicks per exposure of each user's slate ``lists`` (n, K), best
        slot first: each slot's examination probability times its item's true relevance."""
        examined = self.feedback.examination(lists.shape[1])
        return np.asarray((self._slots(users, lists, found) * examined).mean(1))

    def _slots(self, users: np.ndarray, lists: np.ndarray, found: np.ndarray) -> np.ndarray:
        relevance = np.zeros(lists.shape)
        owners = np.repeat(users, lists.shape[1]).reshape(lists.shape)
        relevance[found] = self(owners[found], lists[found])
        return relevance

    def of_best_lists(self, users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
        """(n,) the mean true relevance of each user's ``k`` most relevant of ``items``: the
        truth-optimal list, what no recommender can beat."""
        best = []
        for start in range(0, len(users), 256):  # 256 users x the catalog at a time
            scores = self.matrix(users[start : start + 256], items)
            best.append(np.sort(scores, axis=1)[:, -k:].mean(1))
        return np.concatenate(best) if best else np.zeros(0)

    @staticmethod
    def _rows(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
        rows = np.searchsorted(known, ids).clip(max=len(known) - 1)
        missing = known[rows] != ids
        if missing.any():
            raise BadInput(f"ids {ids[missing][:5].tolist()} are not in the simulator's truth")
        return rows


def _matrix(vectors: pa.ChunkedArray) -> np.ndarray:
    flat = vectors.combine_chunks()
    return np.asarray(flat.flatten(), dtype=np.float64).reshape(len(flat), -1)
