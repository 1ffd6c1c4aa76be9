"""Collaborative item vectors for catalogs without text: co-occurrence in the logs -> PPMI -> SVD.

Every user's positive interactions (clicks or purchases) in the last
``semantic_ids.collaborative_days`` days form one basket; items that share baskets get similar
vectors. Days are read only through the validation gate.
The SVD basis is fitted with the codebook and stored with it: on the days in between, today's
co-occurrence rows are projected onto that basis (folding in), so vectors stay comparable with
the codebook's centroids instead of moving with each day's decomposition.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from components.core.errors import BadInput
from components.core.layout import CURATED_EXPOSURES, partition, window
from components.core.partitions import PartitionNotPublished
from components.core.storage import Storage
from components.semantic_ids.vectors import ItemVectors, Tensors, fill_missing
from components.validate.gate import validated_history

_CONTEXT_SMOOTHING = 0.75  # Levy et al.: damps PMI's preference for rare context items
_MIN_RELATIVE_SINGULAR_VALUE = 1e-9


def read_positives(storage: Storage, ds: date, days: int) -> tuple[pa.Table, int]:
    """Distinct (user_id, item_id) positives of the validated history in the ``days`` ending
    on ``ds``, and the number of days read (the gate raises on a gap or a failed day)."""
    try:
        history = validated_history(storage, window(ds, days))
    except PartitionNotPublished as exc:
        raise PartitionNotPublished(
            f"{exc}; collaborative vectors need validated exposures: run extract and validate "
            "first, or set semantic_ids.source=text"
        ) from exc
    tables = []
    for day in history:
        exposures = storage.read_parquet(
            partition(CURATED_EXPOSURES, day),
            columns=["user_id", "item_id", "clicked", "purchased"],
        )
        positive = pc.or_kleene(exposures["clicked"], exposures["purchased"]).fill_null(False)
        tables.append(exposures.filter(positive).select(["user_id", "item_id"]))
    pairs = pa.concat_tables(tables).group_by(["user_id", "item_id"]).aggregate([])
    return pairs, len(history)


def ppmi(users: np.ndarray, items: np.ndarray, n_items: int) -> sparse.csr_matrix:
    """Positive PMI of item co-occurrence in user baskets (row item, column context item)."""
    _, user_rows = np.unique(users, return_inverse=True)
    baskets = sparse.csr_matrix(
        (np.ones(len(items)), (user_rows.reshape(-1), items)),
        shape=(user_rows.max(initial=-1) + 1, n_items),
    )
    counts = (baskets.T @ baskets).tocoo()
    off_diagonal = counts.row != counts.col
    row, col, count = counts.row[off_diagonal], counts.col[off_diagonal], counts.data[off_diagonal]
    row_totals = np.bincount(row, weights=count, minlength=n_items)
    context = np.bincount(col, weights=count, minlength=n_items) ** _CONTEXT_SMOOTHING
    context /= max(context.sum(), 1.0)
    with np.errstate(divide="ignore"):
        pmi = np.log(count / (row_totals[row] * context[col]))
    positive = pmi > 0
    return sparse.csr_matrix(
        (pmi[positive], (row[positive], col[positive])), shape=(n_items, n_items)
    )


class CollaborativeFeatures:
    """Co-occurrence vectors of one catalog snapshot, from the validated logs up to ``ds``."""

    source = "collaborative"

    def __init__(
        self,
        storage: Storage,
        catalog: pa.Table,
        ds: date,
        seed: int,
        days: int,
        dim: int,
    ) -> None:
        self.storage, self.ds, self.seed = storage, ds, seed
        self.item_ids = catalog["item_id"].to_numpy()
        self.days, self.dim = days, dim

    @cached_property
    def _ppmi(self) -> tuple[sparse.csr_matrix, dict[str, int]]:
        pairs, days = read_positives(self.storage, self.ds, self.days)
        items = pairs["item_id"].to_numpy()
        unknown = np.unique(items[~np.isin(items, self.item_ids)])
        if len(unknown):
            examples = ", ".join(map(str, unknown[:5]))
            raise BadInput(
                f"the curated exposures up to {self.ds.isoformat()} name {len(unknown)} items "
                f"missing from that day's catalog snapshot (e.g. {examples}); the catalog "
                "export and the logs disagree"
            )
        rows = np.searchsorted(self.item_ids, items)
        matrix = ppmi(pairs["user_id"].to_numpy(), rows, len(self.item_ids))
        counts = {"days": days, "users": len(pc.unique(pairs["user_id"])), "positives": len(items)}
        return matrix, counts

    def fit_basis(self, seed: int) -> Tensors:
        from sklearn.utils.extmath import randomized_svd

        matrix = self._ppmi[0]
        if matrix.nnz == 0:
            raise BadInput(
                "no two items share a user in the logs, so there is nothing to learn item "
                "vectors from: read more days, or set semantic_ids.source=text"
            )
        components = max(1, min(self.dim, len(self.item_ids) - 1))
        _, singular, right = randomized_svd(matrix, components, random_state=seed)
        keep = singular > _MIN_RELATIVE_SINGULAR_VALUE * singular[0]
        # Projecting a row m onto right / sqrt(singular) gives U * sqrt(S) for fitted items.
        return {
            "item_ids": self.item_ids.astype(np.int64),
            "projection": (right[keep].T / np.sqrt(singular[keep])).astype(np.float32),
        }

    def vectors(self, basis: Tensors) -> ItemVectors:
        matrix, counts = self._ppmi
        # Retired items drop out as context; new items enter through their fitted neighbours.
        listed = np.isin(basis["item_ids"], self.item_ids)
        columns = np.searchsorted(self.item_ids, basis["item_ids"][listed])
        projected = matrix[:, columns] @ basis["projection"][listed]
        silent = ~np.any(projected != 0, axis=1)
        return fill_missing(self.item_ids, projected, silent, self.seed, counts)
