"""The bless stage: is the day's selected candidate good enough, and better than the champion?

The candidate and the registry's champion are scored on the same users of the day's test split
with the same decoder (beam search constrained to the items listed today, ``evaluate.*``). The
candidate is blessed only if it passes the absolute floors (``promotion.min_hr`` on HR@K, and
its unconstrained decoding's hallucination at most ``promotion.max_hallucination``) and, when
there is a champion, beats it by at least ``promotion.min_delta`` on ``promotion.metric`` with
the lower bound of a paired bootstrap interval above zero. A champion of another codebook
version is scored through its own SID map (``ServableModel``), so a refit neither blocks nor
fakes the comparison. A candidate already registered keeps the decision that registered it:
judged again, it would meet a champion that may be itself, and a rerun of a past day would undo
its blessing. Every reason goes to ``promotion/blessing/dt=D/blessing.json`` and its
``report.html``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from components.blessing.bootstrap import paired_bootstrap
from components.blessing.report import render_report
from components.core import layout, partitions
from components.core.config import EvaluateConfig, PipelineConfig, PromotionConfig
from components.core.errors import BadInput
from components.core.storage import Storage, open_storage
from components.datasets.reader import SidDataset, open_dataset
from components.evaluate.decode import rank_items
from components.evaluate.metrics import hallucination_rate, per_user
from components.evaluate.streamed import StreamedSplit
from components.policy.servable import ServableModel
from components.registry.artifacts import METRICS, load_servable
from components.registry.store import ModelRegistry, candidate_identity
from components.trainer.checkpoints import PolicyRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """One model on the day's test users: per-user HR@K and the promotion metric, and the
    hallucination rate of its unconstrained decoding."""

    hits: np.ndarray
    metric: np.ndarray
    hallucination: float

    def summary(self, settings: PromotionConfig) -> dict[str, float]:
        return {
            f"hr@{settings.k}": float(self.hits.mean()),
            settings.metric: float(self.metric.mean()),
            "hallucination_rate": self.hallucination,
            "users": len(self.hits),
        }


def bless(config: PipelineConfig, ds: date) -> dict[str, Any]:
    """Judge the day's selected candidate; the published decision."""
    storage = open_storage(config.storage)
    selection = layout.partition(layout.SELECTION, ds)
    partitions.read_manifest(storage, selection)  # names `adagrpo select` when missing
    chosen = storage.read_json(f"{selection}/{layout.SELECTION_FILE}")["selected"]
    if chosen is None:
        decision: dict[str, Any] = {
            "ds": ds.isoformat(),
            "candidate": None,
            "champion": None,
            "blessed": False,
            "reasons": ["no checkpoint of the day was eligible"],
        }
    else:
        dataset = open_dataset(storage, ds)
        registry = ModelRegistry.open(config.registry)
        identity = candidate_identity(ds, dataset.sid_version, chosen["model_sha256"])
        if registered := registry.find(identity):
            registry.verified(registered.number)  # its record is trusted only if intact
            decision = json.loads(registry.read_file(registered.number, METRICS))["blessing"]
        else:
            decision = _judged(config, storage, registry, ds, chosen, dataset)
    log.info("bless %s: %s (%s)", ds, decision["blessed"], "; ".join(decision["reasons"]))
    files = {layout.BLESSING_FILE: decision, "report.html": render_report(decision).encode()}
    partitions.publish_day(
        storage, layout.BLESSING, ds, "bless", files, blessed=decision["blessed"]
    )
    return decision


def _judged(
    config: PipelineConfig,
    storage: Storage,
    registry: ModelRegistry,
    ds: date,
    chosen: dict[str, Any],
    dataset: SidDataset,
) -> dict[str, Any]:
    """The candidate scored beside the champion (if any) on the day's test users, judged."""
    settings = config.promotion
    listed = dataset.catalog.filter(dataset.catalog.column("listed"))
    today = np.asarray(listed.column("item_id"), dtype=np.int64)
    candidate = _candidate(PolicyRun(storage, ds, chosen["run"]), chosen, dataset)
    ours = _score(candidate, dataset, today, config.evaluate, settings)
    decision: dict[str, Any] = {
        "ds": ds.isoformat(),
        "candidate": {**chosen, "test": ours.summary(settings)},
        "champion": None,
    }
    number = registry.aliases()["champion"]
    theirs = None
    if number is not None:
        champion = load_servable(registry, number)
        theirs = _score(champion, dataset, today, config.evaluate, settings)
        decision["champion"] = {
            "version": number,
            "sid_version": champion.sid_version,
            "same_codebook": champion.sid_version == candidate.sid_version,
            "test": theirs.summary(settings),
        }
    return decision | _judge(ours, theirs, settings)


def _candidate(run: PolicyRun, chosen: dict[str, Any], dataset: SidDataset) -> ServableModel:
    """The selected checkpoint, refused if its weights changed since it was selected."""
    if run.checkpoint_info(chosen["step"])["model_sha256"] != chosen["model_sha256"]:
        raise BadInput(
            f"{run.key} step {chosen['step']} was retrained after it was selected: run "
            f"`adagrpo select --ds {run.ds}` again"
        )
    return ServableModel(run.load_policy(chosen["step"]), dataset.catalog, dataset.sid_version)


def _score(
    model: ServableModel,
    dataset: SidDataset,
    listed_today: np.ndarray,
    decoding: EvaluateConfig,
    settings: PromotionConfig,
) -> Scores:
    """The model on the day's test users, their histories in its own SIDs."""
    split = StreamedSplit(
        dataset, "test", model.policy.config, decoding.test_users, decoding.chunk_users,
        encode=model.encode_examples,
    )  # fmt: skip
    items, recommendable = model.tries(listed_today)
    ranked, _ = rank_items(
        model.policy, split, items, recommendable, decoding.beam_width, decoding.batch_size
    )
    served = per_user(ranked[:, : settings.k], split.targets, settings.k)
    free, generated = rank_items(
        model.policy, split, items, None, decoding.beam_width, decoding.batch_size
    )
    top = slice(None, settings.k)
    return Scores(
        hits=served[f"hr@{settings.k}"],
        metric=served[settings.metric],
        hallucination=hallucination_rate(free[:, top], generated[:, top]),
    )


def _judge(ours: Scores, theirs: Scores | None, settings: PromotionConfig) -> dict[str, Any]:
    """Blessed or not, with every reason; the paired comparison when there is a champion."""
    hr = float(ours.hits.mean())
    reasons = [
        f"HR@{settings.k} {hr:.4f} {'>=' if hr >= settings.min_hr else '<'} the floor "
        f"{settings.min_hr}",
        f"hallucination {ours.hallucination:.4f} "
        f"{'<=' if ours.hallucination <= settings.max_hallucination else '>'} the cap "
        f"{settings.max_hallucination}",
    ]
    blessed = hr >= settings.min_hr and ours.hallucination <= settings.max_hallucination
    out: dict[str, Any] = {}
    if theirs is None:
        reasons.append("no champion: the floors decide")
    else:
        interval = paired_bootstrap(
            ours.metric - theirs.metric, settings.bootstrap_samples, settings.bootstrap_seed
        )
        wins = interval["mean"] >= settings.min_delta and interval["low"] > 0
        reasons.append(
            f"{settings.metric} {interval['mean']:+.4f} against the champion (paired bootstrap "
            f"95% interval {interval['low']:+.4f} .. {interval['high']:+.4f}): "
            + ("beats it" if wins else f"does not beat it by {settings.min_delta} with the "
               "interval above zero")
        )  # fmt: skip
        blessed = blessed and wins
        out["comparison"] = interval
    return {**out, "blessed": blessed, "reasons": reasons}
