"""The ranker's training settings: torch-free, so that the CLI can show their defaults fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrainParams:
    epochs: int = 4
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    seed: int = 0
    device: str = "cpu"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
