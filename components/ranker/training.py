"""Fit the click model: seeded, mini-batch AdamW on binary cross-entropy, CPU by default."""

from __future__ import annotations

import logging
from dataclasses import fields

import numpy as np
import torch
from torch.nn import functional as F

from components.core.config import RankerConfig
from components.core.progress import Progress
from components.ranker.encoding import Inputs
from components.ranker.model import ClickModel, ModelShape

log = logging.getLogger(__name__)


def fit(shape: ModelShape, inputs: Inputs, labels: np.ndarray, params: RankerConfig) -> ClickModel:
    """A model trained on ``inputs`` and their click ``labels``; the same seed, the same weights."""
    torch.manual_seed(params.seed)
    device = torch.device(params.device)
    model = ClickModel(shape).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    targets = torch.from_numpy(labels.astype(np.float32))
    order = torch.Generator().manual_seed(params.seed)  # its own stream: shuffles never drift
    model.train()
    progress = Progress("ranker training", total=params.epochs * len(inputs), unit="rows")
    for epoch in range(params.epochs):
        permutation = torch.randperm(len(inputs), generator=order)
        total = 0.0
        for start in range(0, len(inputs), params.batch_size):
            index = permutation[start : start + params.batch_size]
            batch = to_device(inputs.take(index), device)
            loss = F.binary_cross_entropy_with_logits(model(batch), targets[index].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            progress.advance(len(index))
        log.info("ranker epoch %d/%d: loss %.4f", epoch + 1, params.epochs, total / len(inputs))
    return model.eval().cpu()


def to_device(inputs: Inputs, device: torch.device) -> Inputs:
    return Inputs(*(getattr(inputs, field.name).to(device) for field in fields(inputs)))


@torch.inference_mode()
def predict(model: ClickModel, inputs: Inputs, batch_size: int = 4096) -> np.ndarray:
    """Click probabilities of ``inputs`` (at their positions), float64, in fixed-size chunks."""
    model.eval()
    chunks = [
        torch.sigmoid(model(inputs.take(slice(start, start + batch_size)))).double().numpy()
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0)
