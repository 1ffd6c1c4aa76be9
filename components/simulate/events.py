"""Turn logged slates into raw exposure rows: one row per shown item, in the contract schema.

Every row also names the A/B experiment the shop is running and the user's arm in it: users are
hashed into arms, so a user is in the same arm every day.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

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

    @staticmethod
    def concat(logs: list[SlateLog]) -> SlateLog:
        return SlateLog(
            **{
                f.name: np.concatenate([getattr(log, f.name) for log in logs])
                for f in fields(SlateLog)
            }
        )

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
                pa.repeat(pa.scalar(EXPERIMENT_ID), len(request)),
                ARMS.take(arm_index(self.user_ids)[request]),
            ],
            schema=RAW_EXPOSURE,
        )
