"""The hidden world: users with tastes and activity, items with taste vectors and quality.

It depends on the seed and the scale only. Items are numbered in creation order: the initial
catalog (created before ``start``) first, then each day's new items, drawn from that day's own
random stream so the world over a longer horizon extends the shorter one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from components.simulate.determinism import DAY_US, Stream, epoch_us, rng_for
from components.simulate.scales import Scale
from components.simulate.taxonomy import BRANDS_PER_CATEGORY, Taxonomy, build_taxonomy
from components.simulate.vocabulary import ADJECTIVES, VARIANTS

MAX_FAVOURITES = 3


@dataclass(frozen=True)
class WorldParams:
    latent_dim: int = 16
    taste_noise: float = 0.5  # user latent = mean of favourite category centroids + noise
    item_noise: float = 0.5  # item latent = category centroid + noise
    brand_quality_sd: float = 0.5
    item_quality_sd: float = 0.4
    zipf_exponent: float = 1.0  # popularity prior = popularity rank ** -zipf_exponent
    new_item_share: float = 0.03  # new items a day, as a share of the initial catalog
    warmup_days: float = 30.0  # a new item's popularity grows linearly to its prior meanwhile
    history_days: float = 730.0  # the initial catalog was created over this many past days
    activity_sigma: float = 1.0  # lognormal spread of users' activity


@dataclass(frozen=True)
class Users:
    ids: np.ndarray
    latent: np.ndarray  # (users, latent_dim) float32
    activity: np.ndarray  # expected requests per day
    favourites: np.ndarray  # (users, MAX_FAVOURITES) category indices, -1 where unused


@dataclass(frozen=True)
class Items:
    category: np.ndarray
    brand: np.ndarray  # index into Taxonomy.brand_names
    adjective: np.ndarray  # title words: indices into the vocabulary
    noun: np.ndarray
    variant: np.ndarray
    latent: np.ndarray  # (items, latent_dim) float32
    quality: np.ndarray
    popularity: np.ndarray  # prior: the popularity the item has once it is established
    price: np.ndarray
    created_us: np.ndarray  # creation time, microseconds since the epoch, non-decreasing
    created_day: np.ndarray  # creation day relative to start (negative: the initial catalog)

    @property
    def ids(self) -> np.ndarray:
        return np.arange(1, len(self.category) + 1, dtype=np.int64)

    def exposable_on(self, day: int) -> int:
        """How many items (a prefix) exist before ``day`` starts and can be shown that day."""
        return int(np.searchsorted(self.created_day, day, side="left"))

    def listed_on(self, day: int) -> int:
        """How many items (a prefix) are in the catalog at the end of ``day``."""
        return int(np.searchsorted(self.created_day, day, side="right"))


@dataclass(frozen=True)
class World:
    scale: Scale
    seed: int
    start: date
    params: WorldParams
    taxonomy: Taxonomy
    users: Users
    items: Items

    def popularity_on(self, day: int) -> np.ndarray:
        """Popularity of the items exposable on ``day``: new items are still warming up."""
        count = self.items.exposable_on(day)
        age_days = day - self.items.created_day[:count]
        warmup = np.minimum(age_days / self.params.warmup_days, 1.0)
        return np.asarray(self.items.popularity[:count] * warmup)


def build_world(
    scale: Scale, seed: int, start: date, days: int, params: WorldParams = WorldParams()
) -> World:
    """The world for ``days`` days from ``start``; items exist up to the horizon's last day."""
    taxonomy = build_taxonomy(
        rng_for(seed, Stream.TAXONOMY), params.latent_dim, params.brand_quality_sd
    )
    users = _users(rng_for(seed, Stream.USERS), scale, taxonomy, params)
    factory = _ItemFactory(scale.items, epoch_us(start), taxonomy, params)
    history_us = params.history_days * DAY_US
    # Even the newest initial item is a day old on the first day.
    blocks = [factory.block(rng_for(seed, Stream.INITIAL_ITEMS), scale.items, -history_us, -DAY_US)]
    new_per_day = max(1, round(params.new_item_share * scale.items))
    blocks += [
        factory.block(
            rng_for(seed, Stream.NEW_ITEMS, day), new_per_day, day * DAY_US, (day + 1) * DAY_US
        )
        for day in range(days)
    ]
    items = Items(
        **{
            field.name: np.concatenate([getattr(block, field.name) for block in blocks])
            for field in fields(Items)
        }
    )
    return World(scale, seed, start, params, taxonomy, users, items)


def _users(
    rng: np.random.Generator, scale: Scale, taxonomy: Taxonomy, params: WorldParams
) -> Users:
    count = scale.users
    # Favourite categories: a weighted draw without replacement by an exponential race.
    race = rng.standard_exponential((count, taxonomy.size), dtype=np.float32)
    race /= taxonomy.weights.astype(np.float32)
    favourites = np.empty((count, MAX_FAVOURITES), dtype=np.int16)
    rows = np.arange(count)
    for slot in range(MAX_FAVOURITES):
        favourites[:, slot] = race.argmin(axis=1)
        race[rows, favourites[:, slot]] = np.inf
    n_favourites = rng.integers(1, MAX_FAVOURITES + 1, count)
    favourites[np.arange(MAX_FAVOURITES) >= n_favourites[:, None]] = -1
    taste = np.zeros((count, params.latent_dim), dtype=np.float32)
    for slot in range(MAX_FAVOURITES):
        used = favourites[:, slot] >= 0
        taste[used] += taxonomy.centroids[favourites[used, slot]]
    taste /= n_favourites[:, None].astype(np.float32)
    noise = rng.standard_normal((count, params.latent_dim), dtype=np.float32)
    activity = rng.lognormal(0.0, params.activity_sigma, count)
    return Users(
        ids=np.arange(1, count + 1, dtype=np.int64),
        latent=taste + noise * np.float32(params.taste_noise / np.sqrt(params.latent_dim)),
        activity=activity * (scale.requests_per_day / activity.sum()),  # exactly the scale's
        favourites=favourites,
    )


@dataclass(frozen=True)
class _ItemFactory:
    initial_items: int
    start_us: int
    taxonomy: Taxonomy
    params: WorldParams

    def block(
        self, rng: np.random.Generator, count: int, created_from: float, created_until: float
    ) -> Items:
        """``count`` items created between the two offsets from start, in microseconds."""
        taxonomy, params = self.taxonomy, self.params
        category = rng.choice(taxonomy.size, count, p=taxonomy.weights).astype(np.int16)
        # Within a category a few brands carry most items.
        brand_rank = (BRANDS_PER_CATEGORY * rng.random(count) ** 2).astype(np.int32)
        brand = category.astype(np.int32) * BRANDS_PER_CATEGORY + brand_rank
        noise = rng.standard_normal((count, params.latent_dim), dtype=np.float32)
        noise *= np.float32(params.item_noise / np.sqrt(params.latent_dim))
        quality = taxonomy.brand_quality[brand] + rng.normal(0.0, params.item_quality_sd, count)
        # Popularity rank follows appeal (quality plus luck); the prior is Zipf over that rank.
        appeal = quality + rng.standard_normal(count)
        rank_share = 1.0 / (1.0 + np.exp(1.7 * appeal))  # share of the catalog more popular
        log_price = np.log(taxonomy.typical_price[category]) + 0.3 * taxonomy.brand_quality[brand]
        created = np.sort(rng.uniform(created_from, created_until, count)).astype(np.int64)
        return Items(
            category=category,
            brand=brand,
            adjective=rng.integers(0, len(ADJECTIVES), count, dtype=np.int16),
            noun=taxonomy.noun_start[category] + rng.integers(0, taxonomy.noun_count[category]),
            variant=rng.integers(0, len(VARIANTS), count, dtype=np.int16),
            latent=taxonomy.centroids[category] + noise,
            quality=quality.astype(np.float32),
            popularity=(1.0 + rank_share * self.initial_items) ** -params.zipf_exponent,
            price=np.round(np.exp(log_price + rng.normal(0.0, 0.35, count)), 2),
            created_us=self.start_us + created,
            created_day=np.floor_divide(created, DAY_US).astype(np.int32),
        )
