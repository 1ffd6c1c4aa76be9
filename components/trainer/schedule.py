"""Learning-rate schedule: linear warmup, then cosine decay to a floor (nanoGPT's shape)."""

from __future__ import annotations

import math
from collections.abc import Callable


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float) -> Callable[[int], float]:
    """The multiplier of the peak learning rate at each step, for ``LambdaLR``."""

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        decay_steps = max(total_steps - warmup_steps, 1)
        progress = min((step - warmup_steps) / decay_steps, 1.0)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def capped_warmup(warmup_steps: int, total_steps: int, max_share: float) -> int:
    """``warmup_steps``, but at most ``max_share`` of the run (and at least one step when any
    warmup is asked for, so that the first update is not taken at the peak rate)."""
    if warmup_steps == 0:
        return 0
    return max(1, min(warmup_steps, int(max_share * total_steps)))
