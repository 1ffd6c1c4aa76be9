"""The select stage: of every checkpoint evaluated on the day, the one put up for blessing.

The candidates are every checkpoint of every evaluated run of the day (SFT, AdaGRPO, the
mixtures, ...). The winner has the best validation ``promotion.metric`` under constrained
decoding (what is served) among the checkpoints whose unconstrained decoding hallucinates on at
most ``promotion.max_hallucination`` of its validation recommendations; ties go to the earlier
run and step (``rule``: the evaluate stage chose each run's checkpoint by it too, and scored
that one on test). Only validation numbers are read: the test split decides nothing here. The
decision, with every candidate and why it lost, is published to ``promotion/selection/dt=D/``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.storage import open_storage
from components.selection.rule import choose
from components.trainer.checkpoints import evaluated_runs


def select_candidate(config: PipelineConfig, ds: date) -> dict[str, Any]:
    """Choose the day's candidate; the published decision."""
    storage = open_storage(config.storage)
    settings = config.promotion
    runs = evaluated_runs(storage, ds)
    if not runs:
        raise BadInput(
            f"no evaluated training run of {ds} under {storage.uri('')}: run "
            f"`adagrpo evaluate --ds {ds}` first"
        )
    candidates = []
    for run in runs:
        summary = storage.read_json(run.evaluation_summary)
        candidates += [_candidate(run.key, c, settings.metric) for c in summary["checkpoints"]]
    winner = choose(
        candidates,
        score=lambda c: c["valid_metric"],
        hallucination=lambda c: c["valid_hallucination"],
        cap=settings.max_hallucination,
    )
    for candidate in candidates:
        candidate["outcome"] = _outcome(candidate, winner, settings.max_hallucination)
    decision = {
        "ds": ds.isoformat(),
        "selected_on": f"valid constrained {settings.metric}",
        "eligible_if": f"valid unconstrained hallucination <= {settings.max_hallucination}",
        "selected": None if winner is None else {k: v for k, v in winner.items() if k != "outcome"},
        "candidates": sorted(candidates, key=lambda c: -c["valid_metric"]),
    }
    partitions.publish_day(
        storage, layout.SELECTION, ds, "select", {layout.SELECTION_FILE: decision}
    )
    return decision


def _candidate(run: str, checkpoint: dict[str, Any], metric: str) -> dict[str, Any]:
    if "model_sha256" not in checkpoint:
        raise BadInput(
            f"{run} was evaluated by an older version, whose summary does not name the weights: "
            f"run `adagrpo evaluate --run {run}` again (it reuses the scores)"
        )
    valid = checkpoint["valid"]
    if metric not in valid["constrained"]:
        raise BadInput(
            f"{run} step {checkpoint['step']} was evaluated without {metric}: add its K to "
            f"evaluate.ks and evaluate again, or set promotion.metric"
        )
    return {
        "run": run,
        "step": checkpoint["step"],
        "model_sha256": checkpoint["model_sha256"],
        "valid_metric": valid["constrained"][metric],
        "valid_hallucination": valid["unconstrained"]["hallucination_rate"],
    }


def _outcome(candidate: dict[str, Any], winner: dict[str, Any] | None, cap: float) -> str:
    if candidate is winner:
        return "selected"
    if candidate["valid_hallucination"] > cap:
        return f"ineligible: hallucination {candidate['valid_hallucination']:.4f} above {cap}"
    assert winner is not None  # an eligible candidate exists, so a winner does
    return (
        f"lost: {candidate['valid_metric']:.4f} against {winner['valid_metric']:.4f} "
        f"({winner['run']} step {winner['step']})"
    )
