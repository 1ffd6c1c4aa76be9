"""The A/B readout on simulated traffic whose truth is known: a truly better arm is found, two
identical arms differ no more often than the stated error rate, a broken split is flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.abtest.statistics import ratio, readout, required_users


def traffic(
    rng: np.random.Generator, users: int, ctr: dict[str, float], share: float = 0.5
) -> pd.DataFrame:
    """Users with 1-9 exposures each, a per-user taste around the arm's CTR (so exposures of
    one user are correlated, as in real logs), dwell only on clicks."""
    arm = np.where(rng.random(users) < share, "treatment", "control")
    count = rng.integers(1, 10, users)
    taste = rng.beta(2, 2, users) * 2  # mean 1: each user's CTR multiplier
    user = np.repeat(np.arange(users), count)
    p = np.clip(np.array([ctr[a] for a in arm])[user] * taste[user], 0, 1)
    clicked = rng.random(len(user)) < p
    dwell = np.where(clicked, rng.exponential(30_000, len(user)), 0.0)
    return pd.DataFrame({"user_id": user, "arm": arm[user], "clicked": clicked, "dwell_ms": dwell})


def test_ratio_and_its_delta_method_variance_on_a_hand_case() -> None:
    clicks, exposures = np.array([1.0, 0.0, 3.0]), np.array([2.0, 2.0, 4.0])
    value, variance = ratio(clicks, exposures)
    assert value == pytest.approx(4 / 8)
    # var_y 7/3, cov 5/3, var_x 4/3: (7/3 - 2 * .5 * 5/3 + .25 * 4/3) / (3 * (8/3)^2) = 3/64
    assert variance == pytest.approx(3 / 64)


def test_a_truly_better_arm_is_found() -> None:
    logs = traffic(np.random.default_rng(0), 20_000, {"control": 0.05, "treatment": 0.06})

    result = readout(logs, treatment_share=0.5)

    assert result["ctr"]["significant"] and result["ctr"]["p_value"] < 0.001
    low, high = result["ctr"]["lift_interval"]
    assert 0 < low < 0.2 < high  # the true lift, +20%, inside
    assert result["arms"]["treatment"]["ctr"]["value"] > result["arms"]["control"]["ctr"]["value"]
    assert not result["sample_ratio"]["mismatch"]


def test_identical_arms_differ_at_the_stated_error_rate() -> None:
    rng = np.random.default_rng(1)
    found = [
        readout(traffic(rng, 2_000, {"control": 0.05, "treatment": 0.05}), 0.5)["ctr"][
            "significant"
        ]
        for _ in range(300)
    ]
    assert 0.02 <= np.mean(found) <= 0.09  # 5% nominal, 300 experiments


def test_a_broken_split_is_a_sample_ratio_mismatch() -> None:
    logs = traffic(np.random.default_rng(2), 10_000, {"control": 0.05, "treatment": 0.05}, 0.55)

    assert readout(logs, treatment_share=0.5)["sample_ratio"]["mismatch"]


def test_logs_without_both_arms_are_refused() -> None:
    logs = traffic(np.random.default_rng(3), 100, {"control": 0.05, "treatment": 0.05}, 0.0)
    with pytest.raises(ValueError, match="both arms"):
        readout(logs, 0.5)


def test_the_minimum_detectable_lift_is_found_with_the_stated_power() -> None:
    rng = np.random.default_rng(3)
    pilot = readout(traffic(rng, 4_000, {"control": 0.05, "treatment": 0.05}), 0.5, power=0.8)
    lift = pilot["ctr"]["minimum_detectable_lift"]
    treated = {"control": 0.05, "treatment": 0.05 * (1 + lift)}

    found = [readout(traffic(rng, 4_000, treated), 0.5)["ctr"] for _ in range(200)]

    assert 0.1 < lift < 0.4  # 4,000 users of about 5 exposures each
    assert 0.68 <= np.mean([f["significant"] and f["lift"] > 0 for f in found]) <= 0.92


def test_the_users_planned_from_earlier_logs_find_the_lift_with_the_stated_power() -> None:
    rng = np.random.default_rng(4)
    earlier = traffic(rng, 4_000, {"control": 0.05, "treatment": 0.05})
    per_user = (
        earlier.assign(exposures=1, clicked=earlier["clicked"].astype(float))
        .groupby("user_id")[["exposures", "clicked"]]
        .sum()
    )
    users = required_users(per_user, lift=0.2, alpha=0.05, power=0.8, treatment_share=0.5)["users"]
    treated = {"control": 0.05, "treatment": 0.06}

    found = [readout(traffic(rng, users, treated), 0.5)["ctr"] for _ in range(200)]

    assert 1_000 < users < 20_000
    assert 0.68 <= np.mean([f["significant"] and f["lift"] > 0 for f in found]) <= 0.92
