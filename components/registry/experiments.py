"""A/B experiments: a new challenger against the champion, specified once when it starts.

The spec says what is compared (control: the champion's version, treatment: the challenger's),
how users are split (a salted hash of the user id: stable, and independent of other tests),
what is measured (CTR and dwell time, hallucination as a guardrail) and for how long: the users
needed to detect ``ab_test.min_detectable_lift`` at ``ab_test.alpha`` and ``ab_test.power``
with the readout's own test, planned from the logs before the start, and, for reference, the
exposures per arm an exposure-level two-proportion z-test would ask for.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from typing import Any

from scipy.stats import norm

from components.core.config import ABTestConfig
from components.core.ids import path_id
from components.core.layout import REGISTRY_EXPERIMENTS
from components.core.storage import Storage
from components.registry.store import ModelRegistry, RegistryError


def required_exposures(baseline: float, lift: float, alpha: float, power: float) -> int:
    """Exposures per arm for a two-proportion z-test to detect CTR ``baseline`` -> ``baseline x
    (1 + lift)`` (the normal approximation with the pooled variance under the null)."""
    treated = baseline * (1 + lift)
    pooled = (baseline + treated) / 2
    z_alpha, z_power = norm.ppf(1 - alpha / 2), norm.ppf(power)
    spread = z_alpha * math.sqrt(2 * pooled * (1 - pooled)) + z_power * math.sqrt(
        baseline * (1 - baseline) + treated * (1 - treated)
    )
    return math.ceil((spread / (treated - baseline)) ** 2)


def start_experiment(
    registry: ModelRegistry,
    control: int,
    treatment: int,
    ds: date,
    settings: ABTestConfig,
    planned_users: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The experiment of ``treatment`` against ``control`` from ``ds``, created once (a rerun
    returns the spec it already wrote). ``planned_users``: the users it needs, planned from
    the logs before it (``components/abtest/planning.py``), when there are logs."""
    experiment_id = f"{ds.isoformat()}-v{control}-vs-v{treatment}"
    spec: dict[str, Any] = {
        "id": experiment_id,
        "start": ds.isoformat(),
        "arms": {
            "control": {"alias": "champion", "version": control},
            "treatment": {"alias": "challenger", "version": treatment},
        },
        "treatment_share": settings.treatment_share,
        "salt": hashlib.sha256(experiment_id.encode()).hexdigest()[:16],
        "primary_metrics": ["ctr", "dwell_ms"],
        "guardrails": {"hallucination_rate": "no higher than control"},
        "power": {
            "baseline_ctr": settings.baseline_ctr,
            "min_detectable_lift": settings.min_detectable_lift,
            "alpha": settings.alpha,
            "power": settings.power,
            "exposures_per_arm": required_exposures(
                settings.baseline_ctr, settings.min_detectable_lift, settings.alpha, settings.power
            ),
            "test": "two-sided two-proportion z-test",
        },
    }
    if planned_users is not None:
        spec["power"]["users"] = planned_users
    key = f"{REGISTRY_EXPERIMENTS}/{experiment_id}.json"
    registry.storage.write_if(key, Storage.json_bytes(spec), None)
    return read_experiment(registry, experiment_id)


def read_experiment(registry: ModelRegistry, experiment_id: str) -> dict[str, Any]:
    key = f"{REGISTRY_EXPERIMENTS}/{path_id('experiment id', experiment_id)}.json"
    if not registry.storage.exists(key):
        raise RegistryError(
            f"no experiment {experiment_id!r} in the registry {registry.storage.uri('')}; "
            f"`adagrpo registry list` shows the versions, {REGISTRY_EXPERIMENTS}/ the experiments"
        )
    spec: dict[str, Any] = registry.storage.read_json(key)
    return spec
