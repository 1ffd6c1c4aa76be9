"""The SFT objective: next-token NLL over whole-item sequences (one module, so DDP can wrap it)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from components.policy.model import PAD, Policy


class NextItemNLL(nn.Module):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, codes: Tensor, targets: Tensor) -> Tensor:
        """Mean NLL per target token; ``targets`` are ``codes`` with PAD where nothing is
        predicted (padding, and each sequence's first item)."""
        logits = self.policy.forward_sequences(codes)
        nll = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
        )
        # Under DDP a worker's shard of a short last batch can be empty: 0 then, not 0/0 = NaN.
        return nll / (targets != PAD).sum().clamp(min=1)
