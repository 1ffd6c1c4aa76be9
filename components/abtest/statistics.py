"""Per-arm metrics of an A/B test with confidence intervals, the lift, its significance, and
the sample-ratio check.

Users, not exposures, are the unit of randomisation, so CTR (clicks per exposure) and dwell
(milliseconds per exposure) are ratio metrics over users: ``sum(y_u) / sum(x_u)``. Their
variance comes from the delta method over users (Deng et al., "Applying the Delta Method in
Metric Analytics", KDD 2018), which keeps the correlation of one user's exposures; an
exposure-level binomial variance would understate it. The treatment effect is tested with a
two-sided z-test on the difference of the two ratios; the relative lift's interval comes from
the delta method on the log of their quotient. Beside each lift, the smallest lift the test had
the configured power to detect, from the same variance: what a result without significance
rules out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chisquare, norm

from components.core.errors import BadInput

METRICS = {"ctr": "clicked", "dwell_ms": "dwell_ms"}  # metric: its per-exposure column
SRM_ALPHA = 0.001  # a sample-ratio mismatch this unlikely means the split is broken


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """The ratio of sums over users and the variance of that estimate (delta method)."""
    n = len(numerator)
    mean_y, mean_x = numerator.mean(), denominator.mean()
    value = mean_y / mean_x
    covariance = np.cov(numerator, denominator, ddof=1) if n > 1 else np.zeros((2, 2))
    variance = (covariance[0, 0] - 2 * value * covariance[0, 1] + value**2 * covariance[1, 1]) / (
        n * mean_x**2
    )
    return float(value), float(variance)


def readout(
    exposures: pd.DataFrame, treatment_share: float, confidence: float = 0.95, power: float = 0.8
) -> dict[str, Any]:
    """``exposures``: one row per exposure with ``user_id``, ``arm`` (control or treatment),
    ``clicked`` and ``dwell_ms``. Per arm and metric the value and its interval, the lift with
    its interval, p-value and the smallest lift detectable with ``power``, and the sample-ratio
    check."""
    per_user = (
        exposures.assign(exposures=1, clicked=exposures["clicked"].astype(float))
        .groupby(["arm", "user_id"])[["exposures", *METRICS.values()]]
        .sum()
    )
    return readout_users(per_user, treatment_share, confidence, power)


def readout_users(
    per_user: pd.DataFrame, treatment_share: float, confidence: float = 0.95, power: float = 0.8
) -> dict[str, Any]:
    """As ``readout``, from per-user sums: ``exposures``, ``clicked`` and ``dwell_ms`` indexed
    by (arm, user)."""
    z = norm.ppf(0.5 + confidence / 2)
    arms = {arm: per_user.loc[arm] for arm in ("control", "treatment") if arm in per_user.index}
    if len(arms) < 2:
        raise BadInput(f"the logs hold {sorted(arms)} only: both arms need exposures")
    result: dict[str, Any] = {"confidence": confidence, "test": "delta method, two-sided z-test"}
    result["arms"] = {
        arm: {"users": len(users), "exposures": int(users["exposures"].sum())}
        for arm, users in arms.items()
    }
    for metric, column in METRICS.items():
        estimates = {
            arm: ratio(users[column].to_numpy(), users["exposures"].to_numpy())
            for arm, users in arms.items()
        }
        for arm, (value, variance) in estimates.items():
            result["arms"][arm][metric] = _interval(value, variance, z)
        (control, control_var), (treated, treated_var) = (
            estimates["control"],
            estimates["treatment"],
        )
        difference, spread = treated - control, np.sqrt(control_var + treated_var)
        log_spread = np.sqrt(control_var / control**2 + treated_var / treated**2)
        result[metric] = {
            "difference": _interval(difference, spread**2, z),
            "lift": treated / control - 1,
            "lift_interval": [
                float(np.exp(np.log(treated / control) - z * log_spread) - 1),
                float(np.exp(np.log(treated / control) + z * log_spread) - 1),
            ],
            "p_value": float(2 * norm.sf(abs(difference) / spread)),
            "minimum_detectable_lift": float((z + norm.ppf(power)) * spread / control),
            "power": power,
        }
        result[metric]["significant"] = result[metric]["p_value"] < 1 - confidence
    result["sample_ratio"] = sample_ratio(
        result["arms"]["control"]["users"], result["arms"]["treatment"]["users"], treatment_share
    )
    return result


def required_users(
    per_user: pd.DataFrame, lift: float, alpha: float, power: float, treatment_share: float
) -> dict[str, Any]:
    """Users a test needs to detect a relative CTR ``lift`` with the readout's own test, from
    per-user sums (``exposures``, ``clicked``) of a period as long as the test: the delta-method
    variance of one user's contribution, ``var(c - R n) / mean(n)^2``, spread over the arms."""
    clicks = per_user["clicked"].to_numpy(dtype=float)
    exposures = per_user["exposures"].to_numpy(dtype=float)
    baseline, variance = ratio(clicks, exposures)
    per_user_variance = variance * len(clicks)
    spread = 1 / treatment_share + 1 / (1 - treatment_share)
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    users = math.ceil(z**2 * per_user_variance * spread / (baseline * lift) ** 2)
    return {"users": users, "baseline_ctr": baseline, "per_user_variance": per_user_variance}


def sample_ratio(control: int, treatment: int, treatment_share: float) -> dict[str, Any]:
    """Users per arm against the configured split: a chi-square goodness-of-fit test."""
    total = control + treatment
    expected = [total * (1 - treatment_share), total * treatment_share]
    p_value = float(chisquare([control, treatment], expected).pvalue)
    return {
        "expected_treatment_share": treatment_share,
        "observed_treatment_share": treatment / total,
        "p_value": p_value,
        "mismatch": p_value < SRM_ALPHA,
    }


def _interval(value: float, variance: float, z: float) -> dict[str, float]:
    half = z * float(np.sqrt(variance))
    return {"value": float(value), "low": float(value - half), "high": float(value + half)}
