"""``adagrpo replay``: semi-synthetic logs from real interaction sequences.

Each user's real interactions are spread over the days in their real order. Every interaction
becomes a request whose slate shows the real item (clicked and purchased: the sources are
reviews) among fillers from a logging policy, which are not clicked. The real item sits at a
position drawn with the examination curve of the simulator, so clicks still concentrate on top
positions. Logs are delivered on time and exactly once, one partition per day; the catalog (the
item file) is the same every day.

Two logging policies fill the slates:

- ``popularity``: items drawn by their frequency in the whole data (the ranker then only has
  to tell a bought item from popular filler);
- ``co-occurrence``: what a production recommender would show, learned only from the
  interactions before the day (no leakage): candidates that co-occurred with the user's latest
  items in other users' sequences, scored by that co-occurrence plus the items' popularity so
  far, beside candidates drawn by that popularity. The first day, with nothing before it,
  draws its fillers uniformly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from components.core import layout, partitions
from components.core.errors import BadInput
from components.core.schemas import CATALOG, UTC_MICROS
from components.core.storage import Storage
from components.simulate.determinism import DAY_US, Stream, epoch_us, rng_for
from components.simulate.events import SlateLog
from components.simulate.feedback import FeedbackModel
from components.simulate.logging_policy import Slates, top_distinct
from components.simulate.publishing import exposure_writer, publish_catalog
from components.simulate.replay_input import ReplaySource
from components.simulate.sampling import WeightedSampler
from components.simulate.traffic import sample_surfaces, time_of_day_us

log = logging.getLogger("adagrpo.replay")
PRODUCER = "replay"
REQUESTS_PER_CHUNK = 100_000  # bounds memory on a day with many interactions
COOCCURRENCE_ROWS = 1_024  # requests whose co-occurrence with every item is held at once
USERS = FeedbackModel()  # the simulator's users: how positions are examined, how long they dwell


LoggingPolicy = Literal["popularity", "co-occurrence"]


@dataclass(frozen=True)
class FillerPolicy:
    """How the slate around a real interaction is filled."""

    kind: LoggingPolicy = "popularity"
    pool_size: int = 50
    popularity_alpha: float = 1.0  # candidates are drawn with probability ~ frequency ** alpha
    score_noise: float = 0.3
    recent_items: int = 3  # co-occurrence: the user's latest items the candidates come from
    window: int = 3  # co-occurrence: items this close in a user's sequence co-occur
    cooccurrence_weight: float = 1.0  # of log(1 + co-occurrence count) in the score


@dataclass(frozen=True)
class ReplaySummary:
    users: int
    items: int
    interactions: int
    events: int
    days: int
    seconds: float


def replay(
    storage: Storage,
    source: ReplaySource,
    *,
    start: date,
    days: int,
    seed: int,
    slate_size: int = 10,
    policy: FillerPolicy = FillerPolicy(),
) -> ReplaySummary:
    """Publish ``days`` daily partitions of replayed logs from ``start``, plus provenance."""
    if slate_size < 2:
        raise BadInput("a replay slate needs room for the real item and another: slate size >= 2")
    started = time.perf_counter()
    sequences = source.sequences
    catalog = _catalog(source, start)
    item_ids = catalog["item_id"].to_numpy()
    clicked_items = np.searchsorted(item_ids, sequences.item_ids)  # catalog rows
    offsets_us = _interaction_times(rng_for(seed, Stream.REPLAY_TIMES), sequences.lengths, days)
    users = np.repeat(sequences.user_ids, sequences.lengths)
    frequency = np.bincount(clicked_items, minlength=len(item_ids)).astype(np.float64)

    history = _History(clicked_items, sequences.lengths, policy, len(item_ids))
    if policy.kind == "popularity":
        slates = _SlateFiller(policy, slate_size, frequency, item_ids)

    order = np.argsort(offsets_us, kind="stable")
    day_bounds = np.searchsorted(offsets_us[order], np.arange(days + 1) * DAY_US)
    events = 0
    for day in range(days):
        dt = start + timedelta(days=day)
        publish_catalog(storage, dt, catalog, PRODUCER)
        rng = rng_for(seed, Stream.REPLAY_SLATES, day)
        writer = exposure_writer(storage, dt, PRODUCER)
        today = order[day_bounds[day] : day_bounds[day + 1]]
        if policy.kind == "co-occurrence":  # what a recommender knows when the day starts
            slates = _SlateFiller(policy, slate_size, history.popularity, item_ids, history)
        for chunk, first in enumerate(range(0, len(today), REQUESTS_PER_CHUNK)):
            rows = today[first : first + REQUESTS_PER_CHUNK]
            table = slates.log(
                rng, users[rows], epoch_us(start) + offsets_us[rows], clicked_items[rows], rows
            ).to_table(dt, chunk)
            writer.write(table)
            events += table.num_rows
        writer.publish()
        history.add(today)

    summary = ReplaySummary(
        users=len(sequences.user_ids),
        items=len(item_ids),
        interactions=len(sequences),
        events=events,
        days=days,
        seconds=time.perf_counter() - started,
    )
    partitions.publish_files(
        storage,
        layout.TRUTH,
        {"replay.json": _provenance(source, summary, start, seed, slate_size, policy)},
        {"producer": PRODUCER, "seed": seed},
    )
    log.info(
        "replayed %s interactions of %s users over %d days from %s: %s events in %.1fs",
        f"{summary.interactions:,}", f"{summary.users:,}", days, start, f"{events:,}",
        summary.seconds,
    )  # fmt: skip
    return summary


def _catalog(source: ReplaySource, start: date) -> pa.Table:
    """Every item of the item file and the sequences, by id; all listed from ``start`` on."""
    info = source.items
    ids = np.union1d(info.item_ids, source.sequences.item_ids)
    missing = len(ids) - len(info.item_ids)
    if missing:
        log.warning(
            "%d items of %s are not in %s", missing, source.sequences_file, source.items_file
        )
    described = np.searchsorted(ids, info.item_ids)

    def column(values: list[str]) -> pa.Array:
        filled = np.full(len(ids), "", dtype=object)
        filled[described] = values
        return pa.array(filled, pa.string())

    return pa.Table.from_arrays(
        [
            ids,
            column(info.titles),
            column(info.categories),
            column(info.brands),
            pa.nulls(len(ids), pa.float64()),
            pa.array(np.full(len(ids), epoch_us(start)), UTC_MICROS),
        ],
        schema=CATALOG,
    )


def _interaction_times(rng: np.random.Generator, lengths: np.ndarray, days: int) -> np.ndarray:
    """Microseconds from start per interaction, strictly increasing within each user."""
    count = int(lengths.sum())
    users = np.repeat(np.arange(len(lengths)), lengths)
    offsets = rng.integers(0, days, count) * DAY_US + time_of_day_us(rng.random(count))
    offsets = offsets[np.lexsort((offsets, users))]  # sorted within each user's block
    rank = np.arange(count) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # Adding the rank makes ties strictly increasing; the cap keeps the result in the horizon.
    return np.minimum(offsets, days * DAY_US - int(lengths.max())) + rank


class _History:
    """The interactions of the days replayed so far: each item's popularity and which items
    co-occurred, the only things the co-occurrence policy may learn from."""

    def __init__(
        self, items: np.ndarray, lengths: np.ndarray, policy: FillerPolicy, catalog: int
    ) -> None:
        """``items``: every interaction's catalog row, user after user, in their real order."""
        self.items, self.policy = items, policy
        position = np.arange(len(items)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        reach = max(policy.window, policy.recent_items)
        # previous[:, j]: the item the same user interacted with j + 1 interactions earlier.
        self.previous = np.full((len(items), reach), -1, dtype=np.int64)
        for back in range(1, reach + 1):
            known = position >= back
            self.previous[known, back - 1] = items[np.flatnonzero(known) - back]
        self.popularity = np.zeros(catalog)
        self.cooccurrence = sp.csr_matrix((catalog, catalog))

    def add(self, interactions: np.ndarray) -> None:
        """Learn from a day's ``interactions`` (indices into ``items``), once the day is over."""
        catalog = len(self.popularity)
        self.popularity += np.bincount(self.items[interactions], minlength=catalog)
        earlier = self.previous[interactions, : self.policy.window]
        later = np.broadcast_to(self.items[interactions, None], earlier.shape)
        pairs = earlier >= 0
        rows = np.concatenate([earlier[pairs], later[pairs]])
        columns = np.concatenate([later[pairs], earlier[pairs]])
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(catalog, catalog))
        self.cooccurrence = self.cooccurrence + counts

    def scores(self, interactions: np.ndarray) -> np.ndarray:
        """(n, catalog) how often each item co-occurred with the latest items of the user of
        each interaction, before it (summed over those items)."""
        recent = self.previous[interactions, : self.policy.recent_items]
        known = recent >= 0
        rows = np.repeat(np.arange(len(interactions)), recent.shape[1])[known.ravel()]
        shape = (len(interactions), len(self.popularity))
        latest = sp.csr_matrix((np.ones(len(rows)), (rows, recent[known])), shape=shape)
        return np.asarray((latest @ self.cooccurrence).todense(), dtype=np.float32)


class _SlateFiller:
    def __init__(
        self,
        policy: FillerPolicy,
        slate_size: int,
        frequency: np.ndarray,
        item_ids: np.ndarray,
        history: _History | None = None,
    ) -> None:
        """Fillers by ``frequency``; with ``history`` (the co-occurrence policy), also by what
        co-occurred with the user's latest items."""
        self.policy, self.slate_size, self.history = policy, slate_size, history
        self.item_ids = item_ids
        self.log_frequency = np.log(np.maximum(frequency, 1.0))  # unseen items are never drawn
        weights = frequency**policy.popularity_alpha if frequency.any() else np.ones(len(item_ids))
        self.sampler = WeightedSampler(weights)
        examination = USERS.examination(slate_size)
        self.position_shares = examination / examination.sum()

    def log(
        self,
        rng: np.random.Generator,
        users: np.ndarray,
        ts_us: np.ndarray,
        clicked: np.ndarray,
        interactions: np.ndarray,
    ) -> SlateLog:
        """Slates of ``slate_size`` with the clicked item inside, one per interaction
        (``interactions``: their indices in the replayed sequences)."""
        count = len(users)
        pools = self.sampler.draw(rng, (count, self.policy.pool_size))
        scores = self.log_frequency[pools] + self.policy.score_noise * rng.standard_normal(
            pools.shape
        )
        if self.history is not None:
            pools, scores = self._with_cooccurring(rng, interactions, pools, scores)
        scores[pools == clicked[:, None]] = -np.inf  # the clicked item is placed separately
        fillers = top_distinct(pools, scores, self.slate_size - 1)
        # Where the real click sits: top positions are examined, hence clicked, more often.
        wanted = rng.choice(self.slate_size, count, p=self.position_shares)
        slot = np.minimum(wanted, fillers.shown.sum(axis=1))  # no gaps in a short slate
        slates = _insert(fillers, clicked, slot)
        is_click = np.arange(self.slate_size) == slot[:, None]
        dwell = USERS.dwell_ms(rng, np.ones(count))  # a review is a strong positive
        return SlateLog(
            user_ids=users,
            ts_us=ts_us,
            surface=sample_surfaces(rng, count),
            item_ids=self.item_ids[slates.items],
            scores=slates.scores,
            shown=slates.shown,
            clicked=is_click,
            purchased=is_click,
            dwell_ms=np.where(is_click, dwell[:, None], 0),
        )

    def _with_cooccurring(
        self,
        rng: np.random.Generator,
        interactions: np.ndarray,
        pools: np.ndarray,
        scores: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The popularity pool joined by the items that co-occurred most with the user's
        latest ones; every candidate scored by popularity plus its co-occurrence."""
        assert self.history is not None
        policy = self.policy
        width = min(policy.pool_size, len(self.item_ids))
        related = np.empty((len(pools), width), dtype=pools.dtype)
        related_scores = policy.score_noise * rng.standard_normal((len(pools), width))
        for start in range(0, len(interactions), COOCCURRENCE_ROWS):  # bounds the dense block
            block = slice(start, start + COOCCURRENCE_ROWS)
            counts = self.history.scores(interactions[block])
            best = np.argpartition(-counts, width - 1, axis=1)[:, :width]
            related[block] = best
            related_counts = np.take_along_axis(counts, best, 1)
            bonus = policy.cooccurrence_weight * np.log1p(related_counts)
            related_scores[block] += np.where(related_counts > 0, bonus, -np.inf)
            pooled = np.take_along_axis(counts, pools[block], 1)
            scores[block] += policy.cooccurrence_weight * np.log1p(pooled)
        related_scores += self.log_frequency[related]
        return np.concatenate([pools, related], 1), np.concatenate([scores, related_scores], 1)


def _insert(fillers: Slates, item: np.ndarray, slot: np.ndarray) -> Slates:
    """Put ``item`` at ``slot`` of each row, shifting the fillers below it down one slot.

    Its logging score lies between its neighbours', so scores still fall with the position.
    """
    rows = np.arange(len(item))
    width = fillers.items.shape[1] + 1
    columns = np.arange(width)
    source = np.clip(columns - (columns > slot[:, None]), 0, width - 2)
    at_slot = columns == slot[:, None]
    above = np.where(
        slot > 0, fillers.scores[rows, np.maximum(slot - 1, 0)], fillers.scores[:, 0] + 1.0
    )
    below = fillers.scores[rows, np.minimum(slot, width - 2)]
    below = np.where((slot < width - 1) & np.isfinite(below), below, above - 2.0)
    score = np.nan_to_num((above + below) / 2, neginf=0.0)
    return Slates(
        items=np.where(at_slot, item[:, None], np.take_along_axis(fillers.items, source, 1)),
        scores=np.where(at_slot, score[:, None], np.take_along_axis(fillers.scores, source, 1)),
        shown=at_slot | np.take_along_axis(fillers.shown, source, 1),
    )


def _provenance(
    source: ReplaySource,
    summary: ReplaySummary,
    start: date,
    seed: int,
    slate_size: int,
    policy: FillerPolicy,
) -> dict[str, Any]:
    return {
        "format": source.format,
        "files": [_describe(path) for path in (source.sequences_file, source.items_file)],
        "counts": {
            "users": summary.users,
            "items": summary.items,
            "interactions": summary.interactions,
            "events": summary.events,
        },
        "start": start.isoformat(),
        "days": summary.days,
        "seed": seed,
        "slate_size": slate_size,
        "filler_policy": asdict(policy),
    }


def _describe(path: Path) -> dict[str, Any]:
    content = path.read_bytes()
    return {
        "path": str(path.resolve()),
        "bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
