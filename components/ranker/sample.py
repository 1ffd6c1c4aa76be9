"""A seeded sample of the ranker's rows, stratified by exposure day and label, streamed from
their Parquet files: memory holds the sample and one record batch, however large the day.

Two passes over each file. The first reads the label and the filter's columns and counts the
rows the filter keeps in every stratum (day x label); those counts share the sample out in
proportion (largest remainders, so the total is exact). The second streams the rows and takes
each stratum's share uniformly without replacement, batch by batch: the number taken from a
batch is hypergeometric in what remains of the stratum and of its share.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from components.core.storage import Storage
from components.features.training_rows import LABEL

LABELS = (True, False)
# The rows a filter keeps, from the columns it names: a boolean mask over the batch.
RowFilter = Callable[[pd.DataFrame], np.ndarray]
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Sample:
    rows: pd.DataFrame  # in file order, day by day
    eligible: dict[date, dict[bool, int]]  # rows the filter kept, per day and label
    taken: dict[date, dict[bool, int]]  # rows sampled, per day and label
    dropped: int  # rows the filter did not keep

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """The exact counts as JSON: ``{day: {"clicked"|"not_clicked": {eligible, sampled}}}``."""
        return {
            day.isoformat(): {
                _label_name(label): {
                    "eligible": self.eligible[day][label],
                    "sampled": self.taken[day][label],
                }
                for label in LABELS
            }
            for day in self.eligible
        }


def stratified_sample(
    storage: Storage,
    files: Mapping[date, str],
    size: int | None,
    seed: int,
    keep: tuple[list[str], RowFilter] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Sample:
    """``size`` rows of ``files`` (every row when None or when fewer are eligible), stratified
    by day and label; ``keep`` (its columns and its filter) says which rows are eligible."""
    columns, row_filter = keep if keep else ([], None)
    eligible, dropped = {}, 0
    for day, key in files.items():
        eligible[day], dropped_that_day = _count_eligible(
            storage, key, columns, row_filter, batch_rows
        )
        dropped += dropped_that_day
    strata = [(day, label) for day in files for label in LABELS]
    counts = [eligible[day][label] for day, label in strata]
    quotas = dict(zip(strata, allocate(counts, size), strict=True))
    batches: list[pa.Table] = []
    for day, key in files.items():
        draws = {
            label: _StratumDraw(eligible[day][label], quotas[day, label], seed, day, label)
            for label in LABELS
        }
        for batch in storage.iter_parquet(key, batch_rows=batch_rows):
            table = pa.Table.from_batches([batch])
            kept = _mask(table, columns, row_filter)
            labels = table.column(LABEL).to_numpy(zero_copy_only=False)
            taken = [
                draws[label].take(np.flatnonzero(kept & (labels == label))) for label in LABELS
            ]
            batches.append(table.take(np.sort(np.concatenate(taken))))
    rows = pa.concat_tables(batches).to_pandas() if batches else pd.DataFrame()
    taken_counts = {day: {label: quotas[day, label] for label in LABELS} for day in files}
    return Sample(rows=rows, eligible=eligible, taken=taken_counts, dropped=dropped)


def allocate(counts: list[int], size: int | None) -> list[int]:
    """``size`` shared out over strata of ``counts`` in proportion, by largest remainders (ties
    to the earlier stratum): the shares sum to ``size`` exactly and none exceeds its count."""
    total = sum(counts)
    if size is None or size >= total:
        return list(counts)
    exact = [size * count / total for count in counts]
    shares = [int(share) for share in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[: size - sum(shares)]:
        shares[i] += 1
    return shares


class _StratumDraw:
    """Takes ``quota`` of a stratum's ``size`` rows uniformly as its rows stream by."""

    def __init__(self, size: int, quota: int, seed: int, day: date, label: bool) -> None:
        self.remaining, self.quota = size, quota
        self.rng = np.random.default_rng([seed, day.toordinal(), int(label)])

    def take(self, positions: np.ndarray) -> np.ndarray:
        n = len(positions)
        if self.quota == self.remaining:  # everything left is taken (and no draws are made)
            chosen = positions
        else:
            k = int(self.rng.hypergeometric(n, self.remaining - n, self.quota)) if n else 0
            chosen = positions[np.sort(self.rng.choice(n, k, replace=False))]
        self.remaining -= n
        self.quota -= len(chosen)
        return chosen


def _count_eligible(
    storage: Storage, key: str, columns: list[str], row_filter: RowFilter | None, batch_rows: int
) -> tuple[dict[bool, int], int]:
    """Rows the filter keeps in ``key``, per label; and how many it drops."""
    counts, dropped = dict.fromkeys(LABELS, 0), 0
    for batch in storage.iter_parquet(key, columns=[*columns, LABEL], batch_rows=batch_rows):
        table = pa.Table.from_batches([batch])
        kept = _mask(table, columns, row_filter)
        labels = table.column(LABEL).to_numpy(zero_copy_only=False)[kept]
        clicked = int(labels.sum())
        counts[True] += clicked
        counts[False] += len(labels) - clicked
        dropped += table.num_rows - len(labels)
    return counts, dropped


def _mask(table: pa.Table, columns: list[str], row_filter: RowFilter | None) -> np.ndarray:
    if row_filter is None:
        return np.ones(table.num_rows, dtype=bool)
    return np.asarray(row_filter(table.select(columns).to_pandas()), dtype=bool)


def _label_name(label: bool) -> str:
    return LABEL if label else f"not_{LABEL}"
