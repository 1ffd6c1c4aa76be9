"""Batched, gradient-free scoring of (user, item) pairs: the reward AdaGRPO's trainer calls.

Features come from the daily snapshots of ``ds`` (``features/offline/<view>/w=.../dt=<ds>/``),
the newest a run for ``ds`` has: the very rows Feast materializes into the online store, read
straight from their committed partitions. That keeps scoring a pure, reproducible function of
storage (no online-store state, which a later run may have moved on). A user or item absent
from a snapshot gets null features, as Feast would serve it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from components.core import partitions
from components.core.layout import partition
from components.core.storage import Storage
from components.features.schema import STATS_VIEWS, StatsView
from components.ranker.artifacts import load_ranker
from components.ranker.encoding import FeatureEncoder
from components.ranker.model import SCORING_POSITION, ClickModel
from components.ranker.training import predict


class RankerScorer:
    def __init__(
        self,
        model: ClickModel,
        encoder: FeatureEncoder,
        snapshots: dict[str, pd.DataFrame],
        batch_size: int = 4096,
        weights_sha256: str | None = None,
    ) -> None:
        """``snapshots``: each view's features, indexed by its join key, Feast-named columns;
        ``weights_sha256`` names the published model it scores with (None: an unpublished one)."""
        self.model = model.eval()
        self.encoder = encoder
        self.snapshots = snapshots
        self.batch_size = batch_size
        self.weights_sha256 = weights_sha256

    @classmethod
    def load(cls, storage: Storage, ds: date) -> RankerScorer:
        """The ranker published for ``ds``, with the feature snapshots of ``ds``."""
        loaded = load_ranker(storage, ds)
        windows = loaded.config["windows_days"]
        snapshots = read_snapshots(storage, ds, windows)
        return cls(
            loaded.model, loaded.encoder, snapshots, weights_sha256=loaded.config["weights_sha256"]
        )

    def score(
        self, user_ids: Sequence[int] | np.ndarray, item_ids: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """P(click | shown at position 1) of each (user, item) pair, float64, shape (n,).

        Rows are scored independently in fixed-size chunks without dropout or batch
        statistics, so a pair's score does not depend on what else is in the batch.
        """
        users = np.asarray(user_ids, dtype=np.int64)
        items = np.asarray(item_ids, dtype=np.int64)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(
                f"user_ids {users.shape} and item_ids {items.shape} must be 1-d, equal"
            )
        frame = pd.DataFrame({"user_id": users, "item_id": items})
        for view in STATS_VIEWS:
            features = self.snapshots[view.name].reindex(frame[view.join_key].to_numpy())
            frame = pd.concat([frame, features.reset_index(drop=True)], axis=1)
        positions = np.full(len(frame), SCORING_POSITION)
        return predict(self.model, self.encoder.encode(frame, positions), self.batch_size)


def read_snapshots(storage: Storage, ds: date, windows: Sequence[int]) -> dict[str, pd.DataFrame]:
    """Each view's committed snapshot of ``ds``, indexed by entity id."""
    return {view.name: _snapshot(storage, view, ds, windows) for view in STATS_VIEWS}


def _snapshot(storage: Storage, view: StatsView, ds: date, windows: Sequence[int]) -> pd.DataFrame:
    target = partition(view.offline_source(windows), ds)
    names = partitions.read_manifest(storage, target)["files"]
    columns = list(view.features(windows))
    table = pd.concat(
        [
            storage.read_parquet(f"{target}/{name}", [view.join_key, *columns]).to_pandas()
            for name in names
        ],
        ignore_index=True,
    )
    renamed = table.rename(columns={name: f"{view.name}__{name}" for name in columns})
    return renamed.set_index(view.join_key)
