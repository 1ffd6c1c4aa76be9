"""Turn logged slates into raw exposure rows: one row per shown item, in the contract schema.

Every row also names the A/B experiment that served it and the user's arm in it: by default the
shop's baseline experiment, users hashed into arms so that a user is in the same arm every day;
with slates from ``adagrpo serve``, the experiment and arm the service answered with.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from components.core.schemas import RAW_EXPOSURE, UTC_MICROS
from components.simulate.determinism import hash_unit, make_ids
from components.simulate.traffic import SURFACES

EXPERIMENT_ID = "exp_2026_baseline"
ARMS = pa.array(["control", "treatment"])
_ARM_SALT = 0xA4B


def arm_index(user_ids: np.ndarray) -> np.ndarray:
    """Each user's arm as an index into ARMS: half of the users in each."""
    return (hash_unit(user_ids, _ARM_SALT) >= 0.5).astype(np.int8)


@dataclass(frozen=True)
class SlateLog:
    """What the shop logged for a batch of requests: a row per request, a column per slot."""

    user_ids: np.ndarray  # (requests,)
    ts_us: np.ndarray  # (requests,)
    surface: np.ndarray  # (requests,) indices into SURFACES
    item_ids: np.ndarray  # (requests, slots)
    scores: np.ndarray  # (requests, slots) the policy's logging score
    shown: np.ndarray  # (requests, slots) False past the end of a short slate
    clicked: np.ndarray  # (requests, slots)
    purchased: np.ndarray  # (requests, slots)
    dwell_ms: np.ndarray  # (requests, slots)
    # (requests,) the experiment and arm that served each request; None: the shop's baseline
    # experiment, users hashed into its arms
    experiment_id: np.ndarray | None = None
    arm: np.ndarray | None = None

    @staticmethod
    def concat(logs: list[SlateLog]) -> SlateLog:
        def joined(name: str) -> Any:
            parts = [getattr(log, name) for log in logs]
            return None if parts[0] is None else np.concatenate(parts)

        return SlateLog(**{f.name: joined(f.name) for f in fields(SlateLog)})

    def to_table(self, day: date, chunk: int) -> pa.Table:
        """Exposure rows in request then position order, with ids unique to (day, chunk)."""
        request, slot = np.nonzero(self.shown)
        return pa.Table.from_arrays(
            [
                make_ids(day, chunk, len(request)),
                make_ids(day, chunk, len(self.user_ids))[request],
                self.user_ids[request],
                self.item_ids[self.shown],
                pa.array(self.ts_us[request], UTC_MICROS),
                (slot + 1).astype(np.int32),
                SURFACES.take(self.surface[request]),
                self.scores[self.shown].astype(np.float64),
                self.clicked[self.shown],
                self.purchased[self.shown],
                self.dwell_ms[self.shown].astype(np.int64),
                *self._assignment(request),
            ],
            schema=RAW_EXPOSURE,
        )

    def _assignment(self, request: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """The experiment and arm columns of the rows of ``request``."""
        if self.experiment_id is None or self.arm is None:
            experiment = pa.repeat(pa.scalar(EXPERIMENT_ID), len(request))
            return experiment, ARMS.take(arm_index(self.user_ids)[request])
        return pa.array(self.experiment_id[request]), pa.array(self.arm[request])
