"""Slates from ``adagrpo serve``: the simulated users see what the service recommends.

With ``simulate --serve URL`` each request's slate is the service's top items for the user's
history: their clicked or purchased items in the logs published before the simulated days, the
latest ``max_items`` of them, as a production system reads them from its feature store. The
logs carry the experiment and arm the service answered with, and the users react through the
same feedback model, so each arm's clicks measure its recommendations. A user the service has
nothing for (no item it knows in their history) sees the production policy's slate under the
arm the service assigned: both arms fall back alike, so the comparison stays fair.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import numpy as np
import pyarrow.compute as pc

from components.core import layout, partitions
from components.core.errors import BadInput
from components.core.storage import Storage
from components.simulate.logging_policy import ProductionPolicy, Slates

BATCH = 1_000  # requests per call: within the service's serving.max_batch default


class UserHistories:
    """Each user's positives (clicks or purchases) in the raw logs before a day, oldest first."""

    def __init__(self, by_user: dict[int, list[int]]) -> None:
        self.by_user = by_user

    @classmethod
    def from_logs(cls, storage: Storage, before: date, max_items: int) -> UserHistories:
        days = [
            name.removeprefix("dt=")
            for name in storage.list_folders(layout.RAW_EXPOSURES)
            if name.startswith("dt=") and name.removeprefix("dt=") < before.isoformat()
        ]
        by_user: dict[int, list[int]] = {}
        for day in sorted(days):
            prefix = layout.partition(layout.RAW_EXPOSURES, date.fromisoformat(day))
            if not partitions.is_published(storage, prefix):
                continue
            table = storage.read_parquet(
                prefix, ["user_id", "item_id", "ts", "clicked", "purchased"]
            )
            positives = table.filter(pc.or_(table["clicked"], table["purchased"])).sort_by("ts")
            users = positives["user_id"].to_numpy()
            for user, item in zip(users, positives["item_id"].to_numpy(), strict=True):
                by_user.setdefault(int(user), []).append(int(item))
        return cls({user: items[-max_items:] for user, items in by_user.items()})

    def __call__(self, user_id: int) -> list[int]:
        return self.by_user.get(user_id, [])


class ServedSlates:
    def __init__(
        self, url: str, histories: UserHistories, user_ids: np.ndarray, items: int, slate_size: int
    ) -> None:
        """``user_ids``: the world's user ids by index; ``items``: how many items the world has
        (item ids are item indices + 1)."""
        self.client = httpx.Client(base_url=url, timeout=120)
        self.histories, self.user_ids, self.slate_size = histories, user_ids, slate_size
        self.items = items

    def show(
        self, rng: np.random.Generator, users: np.ndarray, fallback: ProductionPolicy
    ) -> Slates:
        """The service's slates for the requests of ``users`` (indices), with who served them."""
        answers = self._ask([int(self.user_ids[u]) for u in users])
        slates = fallback.show(rng, users)  # kept for the requests the service has nothing for
        items, scores, shown = slates.items.copy(), slates.scores.copy(), slates.shown.copy()
        for row, answer in enumerate(answers):
            served = np.asarray(answer["items"][: self.slate_size], dtype=np.int64)
            if len(served) and served.max() > self.items:
                raise BadInput(
                    f"the service recommended item {served.max()}, which this shop does not have "
                    f"(it has {self.items}): serve a model trained on this shop's logs"
                )
            if len(served):
                items[row, : len(served)] = served - 1
                scores[row] = -np.arange(items.shape[1], dtype=scores.dtype)  # rank order
                shown[row] = np.arange(items.shape[1]) < len(served)
        return Slates(
            items=items,
            scores=scores,
            shown=shown,
            experiment_id=np.array([a["experiment_id"] for a in answers], dtype=object),
            arm=np.array([a["arm"] for a in answers], dtype=object),
        )

    def _ask(self, user_ids: list[int]) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        for start in range(0, len(user_ids), BATCH):
            requests = [
                {"user_id": user, "history": self.histories(user), "k": self.slate_size}
                for user in user_ids[start : start + BATCH]
            ]
            response = self.client.post("/recommend", json={"requests": requests})
            response.raise_for_status()
            answers += response.json()["responses"]
        return answers
