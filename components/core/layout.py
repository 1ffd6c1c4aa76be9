"""Where every dataset lives under the storage root, derived from dates only.

A rerun or backfill of a day therefore overwrites exactly that day's outputs.
"""

from __future__ import annotations

from datetime import date, timedelta

RAW_EXPOSURES = "raw/exposures"  # partitioned by arrival day; late and duplicate events happen
RAW_CATALOG = "raw/catalog"  # one full catalog snapshot per day
TRUTH = "truth"  # the simulator's hidden truth: for analysis, never read by training
CURATED_EXPOSURES = "curated/exposures"  # partitioned by event day, de-duplicated
QUALITY_EXPOSURES = "quality/exposures"  # validation results per curated partition
EMBEDDINGS = "embeddings"  # item embedding cache, keyed by model and a hash of the item's text
SIDS = "sids"  # versioned codebooks (sids/v=<n>/) and daily item <-> SID maps
FEATURES = "features"  # Feast offline sources, registry, online store, ranker training rows
DATASETS = "datasets"  # semantic-ID training sets, one folder per logical date


def partition(dataset: str, dt: date) -> str:
    return f"{dataset}/dt={dt.isoformat()}"


def window(ds: date, days: int) -> list[date]:
    """The ``days`` days ending on ``ds``, oldest first."""
    if days < 1:
        raise ValueError(f"a window needs at least one day, got {days}")
    return [ds - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
