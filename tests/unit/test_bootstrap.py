"""The paired bootstrap finds a real difference, keeps its error rate on none, and repeats."""

from __future__ import annotations

import numpy as np
import pytest

from components.blessing.bootstrap import paired_bootstrap


def test_a_real_difference_has_an_interval_above_zero() -> None:
    differences = np.random.default_rng(0).normal(0.05, 0.2, 2_000)

    interval = paired_bootstrap(differences, samples=1_000, seed=0)

    assert interval["mean"] == pytest.approx(differences.mean())
    assert 0 < interval["low"] < interval["mean"] < interval["high"]


def test_without_a_difference_the_interval_excludes_zero_about_five_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    excluded = 0
    for trial in range(300):
        interval = paired_bootstrap(rng.normal(0, 1, 200), samples=400, seed=trial)
        excluded += not (interval["low"] <= 0 <= interval["high"])
    assert 0.02 <= excluded / 300 <= 0.09  # 5% nominal; a binomial 300 x 0.05 spread


def test_the_same_seed_gives_the_same_interval_and_another_seed_another() -> None:
    differences = np.random.default_rng(2).normal(0, 1, 500)

    seven, again, eight = (paired_bootstrap(differences, 300, seed=s) for s in (7, 7, 8))
    assert seven == again
    assert (seven["low"], seven["high"]) != (eight["low"], eight["high"])  # the seed decides
    with pytest.raises(ValueError, match="no users"):
        paired_bootstrap(np.array([]), 10, seed=0)
