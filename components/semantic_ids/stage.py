"""The semantic-IDs stage for one logical date: catalog -> item vectors -> SIDs -> published map.

Without a codebook, or when the refit policy asks for one, a new version is fitted on every item
of the day's catalog. Otherwise the current version's latest earlier map is kept as it is and
only the new items are assigned, so existing items keep exactly their SIDs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from components.core.config import SemanticIdConfig
from components.core.storage import Storage
from components.semantic_ids import report, store
from components.semantic_ids.catalog import read_catalog
from components.semantic_ids.codebook import fit_codebook
from components.semantic_ids.codes import code_stats
from components.semantic_ids.embedder import Embedder, SentenceTransformerEmbedder
from components.semantic_ids.sidmap import SidTable, extend_table, fresh_table
from components.semantic_ids.vectors import ItemFeatures, ItemVectors
from components.semantic_ids.versioning import (
    Drift,
    changed_settings,
    fit_settings,
    refit_reasons,
)

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
    settings = fit_settings(config, features.source)
    current = store.read_current(storage)
    if current is None:
        return _fit_version(storage, ds, features, config, 1, ["first codebook"])
    codebook, fit_record = store.load_codebook(storage, current.version)
    reasons = ["requested (--refit)"] if force_refit else []
    reasons += [
        f"settings changed: {change}"
        for change in changed_settings(fit_record["settings"], settings)
    ]
    if reasons:
        return _fit_version(storage, ds, features, config, current.version + 1, reasons)

    vectors = features.vectors(codebook.basis)
    base = _base_map(storage, current, ds)
    new = ~np.isin(vectors.item_ids, base.item_ids)
    error = codebook.error(vectors.matrix)
    drift = Drift(
        days_since_fit=(ds - current.fitted_on).days,
        new_item_share=1 - fit_record["items"] / (len(base) + int(new.sum())),
        error_increase=error / max(fit_record["quantization_error"], 1e-12) - 1,
    )
    reasons = refit_reasons(drift, config)
    if reasons:
        return _fit_version(storage, ds, features, config, current.version + 1, reasons)
    table = extend_table(
        base,
        listed_ids=vectors.item_ids,
        new_ids=vectors.item_ids[new],
        new_codes=codebook.codes(vectors.matrix[new]),
        ds=ds,
        dedup_vocab=fit_record["dedup_vocab"],
    )
    return _publish(storage, ds, fit_record, table, vectors, error, drift)


def item_features(
    storage: Storage,
    catalog: pa.Table,
    ds: date,
    config: SemanticIdConfig,
    embedder: Embedder | None = None,
) -> ItemFeatures:
    if config.source == "collaborative":
        from components.semantic_ids.collaborative import CollaborativeFeatures

        return CollaborativeFeatures(storage, catalog, ds, config.seed)
    from components.semantic_ids.embed import TextFeatures

    embedder = embedder or SentenceTransformerEmbedder(config.model_path, config.batch_size)
    return TextFeatures(storage, catalog, ds, embedder, config.seed)


def _base_map(storage: Storage, current: store.CurrentVersion, ds: date) -> SidTable:
    """The map new items are added to: the version's latest map before ``ds``, or its fit map.

    A backfill of a day before the fit starts from the fit map, so items that were retired
    by the fit day get SIDs that days after the fit may give to other items.
    """
    earlier = [day for day in store.map_dates(storage, current.version) if day < ds]
    day = earlier[-1] if earlier else current.fitted_on
    return SidTable.from_arrow(store.read_map(storage, current.version, day)[0])


def _fit_version(
    storage: Storage,
    ds: date,
    features: ItemFeatures,
    config: SemanticIdConfig,
    version: int,
    reasons: list[str],
) -> SidRun:
    log.info("fitting codebook v%d: %s", version, "; ".join(reasons))
    basis = features.fit_basis(config.seed)
    vectors = features.vectors(basis)
    codebook = fit_codebook(vectors.matrix, basis, config)
    table = fresh_table(vectors.item_ids, codebook.codes(vectors.matrix), ds, config.codebook_size)
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
            "stand_ins": vectors.placeholders,
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
