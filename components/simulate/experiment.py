"""The running A/B experiment: users are hashed into arms, the same way every day."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from components.simulate.hashing import hash_unit

EXPERIMENT_ID = "exp_2026_baseline"
ARMS = pa.array(["control", "treatment"])
_ARM_SALT = 0xA4B


def arm_index(user_ids: np.ndarray) -> np.ndarray:
    """Each user's arm as an index into ARMS: half of the users in each."""
    return (hash_unit(user_ids, _ARM_SALT) >= 0.5).astype(np.int8)
