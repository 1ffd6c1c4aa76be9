"""When a codebook version is refitted: the settings changed, or the catalog drifted from it.

Between refits, new items are assigned with the current codebook so that every existing item
keeps its SID (and models trained on earlier days keep meaning the same items).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.core.config import SemanticIdConfig


def fit_settings(config: SemanticIdConfig, source: str) -> dict[str, Any]:
    """The settings a codebook is fitted with: changing any of them needs a new version."""
    settings: dict[str, Any] = {
        "source": source,
        "quantizer": config.quantizer,
        "levels": config.levels,
        "codebook_size": config.codebook_size,
        "whiten_dim": config.whiten_dim,
        "seed": config.seed,
    }
    if config.source == "collaborative":  # they shape the vector space of that source only
        settings["collaborative_days"] = config.collaborative_days
        settings["collaborative_dim"] = config.collaborative_dim
    return settings


def changed_settings(fitted: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    return [
        f"{name} {fitted.get(name)!r} -> {value!r}"
        for name, value in wanted.items()
        if fitted.get(name) != value
    ]


@dataclass(frozen=True)
class Drift:
    """How far today's catalog has moved from the current codebook's fit."""

    days_since_fit: int
    new_item_share: float  # items assigned after the fit / items in today's map
    error_increase: float  # quantization error today / at the fit - 1

    def to_json(self) -> dict[str, Any]:
        return {
            "days_since_fit": self.days_since_fit,
            "new_item_share": round(self.new_item_share, 6),
            "error_increase": round(self.error_increase, 6),
        }


def refit_reasons(drift: Drift, config: SemanticIdConfig) -> list[str]:
    """Why the codebook must be refitted today; empty when it still serves."""
    reasons = []
    if drift.days_since_fit >= config.refit_every_days:
        reasons.append(
            f"scheduled: {drift.days_since_fit} days since the fit "
            f"(refit_every_days={config.refit_every_days})"
        )
    if drift.new_item_share > config.refit_new_item_share:
        reasons.append(
            f"new items are {drift.new_item_share:.1%} of the map "
            f"(refit_new_item_share={config.refit_new_item_share:.1%})"
        )
    if drift.error_increase > config.refit_error_increase:
        reasons.append(
            f"quantization error rose {drift.error_increase:.1%} since the fit "
            f"(refit_error_increase={config.refit_error_increase:.1%})"
        )
    return reasons
