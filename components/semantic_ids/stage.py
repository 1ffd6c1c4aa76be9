"""The semantic-IDs stage for one logical date: catalog -> item vectors -> SIDs -> published map.

Without a codebook, or when the refit policy asks for one, a new version is fitted on every item
of the day's catalog; items of the previous version's map that left the catalog stay in the new
map, unlisted, so that the logs' history keeps its SIDs. Otherwise the version's latest earlier
map is kept as it is and only the new items are assigned, so existing items keep their SIDs.

Only the latest mapped day may refit. A past day (a rerun or a backfill) is mapped with the
version in use on it, the newest fitted on or before it, and is never refitted; a past day that
has its map already keeps it as published, so rerunning it changes nothing. A day before the
first fit is refused: a codebook fitted for it would serve no later day, and one fitted later
would give its SIDs to items other days list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.core.config import SemanticIdConfig
from components.core.errors import BadInput, MissingInput
from components.core.layout import RAW_CATALOG, partition
from components.core.partitions import is_published
from components.core.storage import Storage
from components.semantic_ids import report, store
from components.semantic_ids.codebook import fit_codebook
from components.semantic_ids.codes import code_stats
from components.semantic_ids.sidmap import SidTable, extend_table, fresh_table
from components.semantic_ids.vectors import ItemFeatures, ItemVectors, stand_ins
from components.semantic_ids.versioning import (
    Drift,
    changed_settings,
    fit_settings,
    refit_reasons,
)

if TYPE_CHECKING:
    from components.semantic_ids.text import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidRun:
    ds: date
    version: int
    refit_reasons: tuple[str, ...]  # empty when the current codebook assigned the new items
    map_key: str
    report: dict[str, Any]


def build_semantic_ids(
    storage: Storage,
    ds: date,
    config: SemanticIdConfig,
    embedder: Embedder | None = None,
    force_refit: bool = False,
) -> SidRun:
    """Publish the item <-> SID map of ``ds``, fitting a new codebook version when due."""
    catalog = read_catalog(storage, ds)
    features = item_features(storage, catalog, ds, config, embedder)
    current = store.read_current(storage)
    if current is None:
        return _fit_version(storage, ds, features, config, 1, ["first codebook"], None)
    in_use, mapped, past = _version_of_day(storage, ds, current)
    codebook, fit_record = store.load_codebook(storage, in_use.version)
    base = _base_map(storage, in_use, mapped, ds)
    reasons = ["requested (--refit)"] if force_refit else []
    reasons += [
        f"settings changed: {change}"
        for change in changed_settings(
            fit_record["settings"], fit_settings(config, features.source)
        )
    ]
    if reasons and past:
        raise BadInput(
            f"{ds.isoformat()} is a past day, mapped with codebook v{in_use.version}: it is never "
            f"refitted ({'; '.join(reasons)}); rerun it with the settings of "
            f"{storage.uri(store.version_prefix(in_use.version))}/fit.json"
        )
    if reasons:
        return _fit_version(storage, ds, features, config, current.version + 1, reasons, base)
    if past and ds in mapped:
        return _kept(storage, in_use.version, ds)

    vectors = features.vectors(codebook.basis)
    new = ~np.isin(vectors.item_ids, base.item_ids)
    error = codebook.error(vectors.matrix)
    drift = Drift(
        days_since_fit=(ds - in_use.fitted_on).days,
        new_item_share=1 - fit_record["items"] / (len(base) + int(new.sum())),
        error_increase=error / max(fit_record["quantization_error"], 1e-12) - 1,
    )
    reasons = refit_reasons(drift, config)
    if reasons and not past:
        return _fit_version(storage, ds, features, config, current.version + 1, reasons, base)
    if reasons:
        log.info("a past day keeps codebook v%d despite: %s", in_use.version, "; ".join(reasons))
    table = extend_table(
        base,
        listed_ids=vectors.item_ids,
        new_ids=vectors.item_ids[new],
        new_codes=codebook.codes(vectors.matrix[new]),
        ds=ds,
        dedup_vocab=fit_record["dedup_vocab"],
    )
    return _publish(storage, ds, fit_record, table, vectors, error, drift)


def read_catalog(storage: Storage, ds: date) -> pa.Table:
    """The committed catalog snapshot of ``ds``, sorted by item id."""
    key = partition(RAW_CATALOG, ds)
    if not is_published(storage, key):
        raise MissingInput(
            f"no catalog snapshot for {ds.isoformat()}: {storage.uri(key)} is not published "
            "(the simulator or the catalog export writes one per day)"
        )
    catalog = storage.read_parquet(key)
    item_ids = catalog["item_id"]
    if catalog.num_rows == 0:
        raise BadInput(f"the catalog snapshot {storage.uri(key)} lists no items")
    if item_ids.null_count:
        raise BadInput(f"the catalog snapshot {storage.uri(key)} has items without an id")
    if len(pc.unique(item_ids)) != catalog.num_rows:
        raise BadInput(f"the catalog snapshot {storage.uri(key)} lists an item id twice")
    return catalog.sort_by("item_id")


def item_features(
    storage: Storage,
    catalog: pa.Table,
    ds: date,
    config: SemanticIdConfig,
    embedder: Embedder | None = None,
) -> ItemFeatures:
    if config.source == "collaborative":
        from components.semantic_ids.collaborative import CollaborativeFeatures

        return CollaborativeFeatures(
            storage, catalog, ds, config.seed, config.collaborative_days, config.collaborative_dim
        )
    from components.semantic_ids.text import SentenceTransformerEmbedder, TextFeatures

    embedder = embedder or SentenceTransformerEmbedder(config.model_path, config.batch_size)
    return TextFeatures(storage, catalog, ds, embedder, config.seed)


def _version_of_day(
    storage: Storage, ds: date, current: store.CurrentVersion
) -> tuple[store.CurrentVersion, list[date], bool]:
    """The version in use on ``ds``, the days it has maps for, and whether ``ds`` is a past
    day (one before the current version's latest map), which may not refit."""
    in_use = store.version_on(storage, ds)
    if in_use is None:
        raise BadInput(
            f"no codebook version was fitted on or before {ds.isoformat()} (the first fit is "
            "later), and a past day is never fitted: map days oldest first to give them SIDs"
        )
    mapped = store.map_dates(storage, in_use.version)
    return in_use, mapped, in_use != current or any(day > ds for day in mapped)


def _base_map(
    storage: Storage, version: store.CurrentVersion, mapped: list[date], ds: date
) -> SidTable:
    """The map new items are added to: the version's latest map before ``ds``, else its fit
    map (fitted on or before ``ds``)."""
    earlier = [day for day in mapped if day < ds]
    day = earlier[-1] if earlier else version.fitted_on
    return SidTable.from_arrow(store.read_map(storage, version.version, day)[0])


def _fit_version(
    storage: Storage,
    ds: date,
    features: ItemFeatures,
    config: SemanticIdConfig,
    version: int,
    reasons: list[str],
    previous: SidTable | None,
) -> SidRun:
    """Fit ``version`` on the catalog's items; ``previous`` (the map the last version would
    have extended) contributes the items that left the catalog, with stand-in vectors: their
    text or logs are gone, but the logs' history still names them."""
    log.info("fitting codebook v%d: %s", version, "; ".join(reasons))
    basis = features.fit_basis(config.seed)
    vectors = features.vectors(basis)
    codebook = fit_codebook(vectors.matrix, basis, config)
    table = fresh_table(vectors.item_ids, codebook.codes(vectors.matrix), ds, config.codebook_size)
    if previous is not None:
        gone = previous.item_ids[~np.isin(previous.item_ids, vectors.item_ids)]
        table = extend_table(
            table,
            listed_ids=vectors.item_ids,
            new_ids=gone,
            new_codes=codebook.codes(stand_ins(gone, vectors.matrix.shape[1], config.seed)),
            ds=ds,
            dedup_vocab=config.codebook_size,
        )
    error = codebook.error(vectors.matrix)
    fit_record = {
        "version": version,
        "fitted_on": ds.isoformat(),
        "reasons": reasons,
        "settings": fit_settings(config, features.source),
        "items": len(table),
        "levels": codebook.levels,
        "codes_per_level": codebook.size,
        "dedup_vocab": config.codebook_size,
        "whitened_dim": codebook.whitening.output_dim,
        "quantization_error": error,
        "stats": code_stats(table.codes, table.dedup, codebook.size).to_json(),
    }
    storage.delete_prefix(store.version_prefix(version))  # leftovers of an uncommitted fit
    store.save_codebook(storage, version, codebook, fit_record)
    run = _publish(storage, ds, fit_record, table, vectors, error, None)
    store.write_current(storage, store.CurrentVersion(version, ds))  # commits the version
    return run


def _kept(storage: Storage, version: int, ds: date) -> SidRun:
    """A past day's published map, left as it is: its SIDs are settled, and republishing it
    would rewrite the report of the run that made it (a fit's, for the version's first day)."""
    map_key = store.map_partition(version, ds)
    run_report = storage.read_json(f"{map_key}/report.json")
    log.info("semantic IDs %s: a past day, its map in codebook v%d kept as published", ds, version)
    return SidRun(ds, version, tuple(run_report["refit_reasons"]), map_key, run_report)


def _publish(
    storage: Storage,
    ds: date,
    fit_record: dict[str, Any],
    table: SidTable,
    vectors: ItemVectors,
    error: float,
    drift: Drift | None,
) -> SidRun:
    """Publish ``table`` with its report; ``drift`` is None on the run that fitted the codebook."""
    version, levels = int(fit_record["version"]), int(fit_record["levels"])
    stats = code_stats(table.codes, table.dedup, fit_record["codes_per_level"])
    reasons = fit_record["reasons"] if drift is None else []
    summary = {
        "ds": ds.isoformat(),
        "version": version,
        "levels": levels,
        "codes_per_level": fit_record["codes_per_level"],
        "dedup_vocab": fit_record["dedup_vocab"],
        "tokens_per_item": levels + 1,
    }
    run_report = {
        **summary,
        "fitted_on": fit_record["fitted_on"],
        "refit_reasons": reasons,
        "drift": drift.to_json() if drift else None,
        "vectors": {
            "source": fit_record["settings"]["source"],
            "stand_ins": vectors.without_signal,
            **vectors.counts,
        },
        "items": {
            "in_map": len(table),
            "listed": int(table.listed.sum()),
            "assigned_today": int(np.sum(table.assigned_on == np.datetime64(ds, "D"))),
        },
        "quantization_error": {
            "today": round(error, 6),
            "at_fit": round(fit_record["quantization_error"], 6),
        },
        **stats.to_json(),
    }
    map_key = store.publish_map(
        storage,
        version,
        ds,
        table,
        {**summary, "producer": "semantic-ids", "items": len(table)},
        report.attachments(run_report, stats),
    )
    log.info(
        "semantic IDs %s: codebook v%d%s, %d items (%d assigned today), collision rate %.2f%%, "
        "max de-dup index %d, utilization %s; report %s",
        ds,
        version,
        f" (refit: {'; '.join(reasons)})" if reasons else "",
        len(table),
        run_report["items"]["assigned_today"],
        100 * stats.collision_rate,
        stats.max_dedup_index,
        "/".join(f"{share:.0%}" for share in stats.utilization),
        storage.uri(f"{map_key}/report.html"),
    )
    return SidRun(ds, version, tuple(reasons), map_key, run_report)
