"""How many days of demo-scale traffic an A/B test needs to detect a 2% CTR lift.

Traffic like the demo shop's (20,000 users, 1.1 requests a day each on average, 10 exposures a
request, 5% CTR, each user's taste spreading their CTR), half of the users on a treatment whose
CTR is 2% higher (relative). For each number of days, 200 simulated experiments are read out
with the readout's own test (delta method over users, two-sided, 5%); the power is the share that
finds the lift. Beside it, the two-proportion z-test's planned exposures per arm (80% power),
which ignores that one user's exposures are correlated. The same 20,000 users come back every
day, so more days shrink the noise of each user's clicks but not the spread of tastes between
the two halves: the power levels off below 100%, which the planned count cannot show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.abtest.statistics import readout_users
from components.registry.experiments import required_exposures

USERS, REQUESTS_PER_DAY, SLATE, CTR, LIFT = 20_000, 1.1, 10, 0.05, 0.02
EXPERIMENTS = 200


def one_experiment(rng: np.random.Generator, days: int) -> bool:
    arm = np.where(rng.random(USERS) < 0.5, "treatment", "control")
    exposures = rng.poisson(REQUESTS_PER_DAY * days, USERS) * SLATE
    taste = rng.beta(2, 2, USERS) * 2  # mean 1: correlated clicks within a user
    p = np.clip(CTR * taste * np.where(arm == "treatment", 1 + LIFT, 1.0), 0, 1)
    clicked = rng.binomial(exposures, p)
    seen = exposures > 0
    per_user = pd.DataFrame(
        {"exposures": exposures[seen], "clicked": clicked[seen], "dwell_ms": clicked[seen] * 3e4},
        index=pd.MultiIndex.from_arrays([arm[seen], np.flatnonzero(seen)]),
    )
    result = readout_users(per_user, 0.5)["ctr"]
    return bool(result["significant"] and result["lift"] > 0)


def run(workdir: Path) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    power = {}
    for days in (1, 2, 4, 7, 10, 14, 21, 28):
        power[days] = float(np.mean([one_experiment(rng, days) for _ in range(EXPERIMENTS)]))
    per_arm_per_day = USERS * REQUESTS_PER_DAY * SLATE / 2
    planned = required_exposures(CTR, LIFT, 0.05, 0.8)
    enough = [days for days, share in power.items() if share >= 0.8]
    return {
        "traffic": {"users": USERS, "requests_per_user_day": REQUESTS_PER_DAY, "slate": SLATE,
                    "ctr": CTR, "relative_lift": LIFT, "experiments_per_point": EXPERIMENTS},
        "power_by_days": power,
        "days_to_80_percent_power": enough[0] if enough else None,
        "planned_exposures_per_arm": planned,
        "planned_days": round(planned / per_arm_per_day, 1),
    }  # fmt: skip
