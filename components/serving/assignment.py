"""Which arm of an experiment a user is in: a salted hash of the user id, so the assignment is
stable across requests and restarts, and independent between experiments (each has a salt)."""

from __future__ import annotations

import hashlib


def arm_of(user_id: int, salt: str, treatment_share: float) -> str:
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return "treatment" if position < treatment_share else "control"
