"""The SFT objective: next-token NLL over whole-item sequences (one module, so DDP can wrap it)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from components.policy.model import PAD, Policy


class NextItemNLL(nn.Module):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, codes: Tensor, targets: Tensor, normalizer: Tensor | float) -> Tensor:
        """The summed NLL of the target tokens over ``normalizer``; ``targets`` are ``codes``
        with PAD where nothing is predicted (padding, and each sequence's first item).

        With ``normalizer`` = the whole batch's target tokens / workers, DDP's average of the
        workers' gradients is exactly the gradient of the batch's mean NLL per token, however
        the tokens fell across workers (a worker's shard of a short batch may even be empty).
        """
        logits = self.policy.forward_sequences(codes)
        nll = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
        )
        return nll / normalizer
