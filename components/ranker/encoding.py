"""Rows -> model inputs: hashed ids, standardized numeric features with missing indicators.

The statistics are fitted on the training days only and saved with the model, so that
scoring encodes exactly as training did.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

ID_BUCKETS = 100_003  # prime: ids hash to buckets by modulo, new ids need no vocabulary
CATEGORY_BUCKETS = 1_009  # string features (a user's top category); bucket 0 means missing
CLIP = 5.0  # standard deviations: heavy-tailed counts must not dominate the cross layers


@dataclass(frozen=True)
class Inputs:
    users: torch.Tensor  # (n,) id buckets
    items: torch.Tensor  # (n,)
    numeric: torch.Tensor  # (n, 2 * numeric features): standardized values, then missing flags
    categorical: torch.Tensor  # (n, categorical features) hashed buckets
    positions: torch.Tensor  # (n,) 1-based slate positions, clipped to the model's maximum

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def take(self, index: slice | torch.Tensor) -> Inputs:
        return Inputs(
            self.users[index],
            self.items[index],
            self.numeric[index],
            self.categorical[index],
            self.positions[index],
        )


@dataclass(frozen=True)
class FeatureEncoder:
    numeric: list[str]
    means: list[float]
    stds: list[float]
    categorical: list[str]
    max_position: int

    @classmethod
    def fit(cls, frame: pd.DataFrame, features: list[str], max_position: int) -> FeatureEncoder:
        """Standardization statistics of ``features`` over ``frame``, ignoring nulls."""
        numeric = [name for name in features if pd.api.types.is_numeric_dtype(frame[name])]
        values = _numeric_matrix(frame, numeric)
        observed = ~np.isnan(values)
        # A column that is all null (a first day without snapshots) standardizes to 0.
        counts = np.maximum(observed.sum(axis=0), 1)
        means = np.where(observed, values, 0.0).sum(axis=0) / counts
        spread = np.where(observed, (values - means) ** 2, 0.0).sum(axis=0) / counts
        stds = np.where(spread > 0, np.sqrt(spread), 1.0)
        return cls(
            numeric=numeric,
            means=means.tolist(),
            stds=stds.tolist(),
            categorical=[name for name in features if name not in numeric],
            max_position=max_position,
        )

    def encode(self, frame: pd.DataFrame, positions: np.ndarray | None = None) -> Inputs:
        """``frame``'s rows; ``positions`` defaults to the frame's ``position`` column."""
        values = np.clip(
            (_numeric_matrix(frame, self.numeric) - self.means) / self.stds, -CLIP, CLIP
        )
        missing = np.isnan(values)
        numeric = np.concatenate([np.where(missing, 0.0, values), missing], axis=1)
        categorical = _columns([_hash_strings(frame[name]) for name in self.categorical], frame)
        shown = frame["position"].to_numpy() if positions is None else positions
        return Inputs(
            users=torch.from_numpy(frame["user_id"].to_numpy(np.int64) % ID_BUCKETS),
            items=torch.from_numpy(frame["item_id"].to_numpy(np.int64) % ID_BUCKETS),
            numeric=torch.from_numpy(numeric.astype(np.float32)),
            categorical=torch.from_numpy(categorical.astype(np.int64)),
            positions=torch.from_numpy(np.clip(shown, 1, self.max_position).astype(np.int64)),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FeatureEncoder:
        return cls(**payload)


def _numeric_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return _columns([frame[name].to_numpy(np.float64, na_value=np.nan) for name in columns], frame)


def _columns(arrays: list[np.ndarray], frame: pd.DataFrame) -> np.ndarray:
    """``arrays`` side by side, (rows, len(arrays)), also when there are none."""
    return np.stack(arrays, axis=1) if arrays else np.zeros((len(frame), 0))


def _hash_strings(column: pd.Series) -> np.ndarray:
    # crc32, not hash(): Python salts string hashes per process.
    return np.array(
        [
            0 if pd.isna(value) else 1 + zlib.crc32(str(value).encode()) % (CATEGORY_BUCKETS - 1)
            for value in column
        ],
        dtype=np.int64,
    )
