"""The ranker's training settings: torch-free, so that the CLI can show their defaults fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 4
    batch_size: int = 2048  # a demo-scale week (1.5M rows) trains in minutes on 2 cores
    learning_rate: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = 0
    device: str = "cpu"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
