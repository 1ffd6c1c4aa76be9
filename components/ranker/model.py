"""The click model: DCN-v2 over id embeddings and Feast features, plus a position-bias term.

Position enters only as an additive logit (a "shallow tower", as in PAL): the deep part sees
no position, so clicks explained by a good slot are charged to the slot, not to the item.
Scoring fixes every candidate at position 1, so the reward is P(click | shown first) and two
candidates are compared under the same examination.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from components.ranker.encoding import CATEGORY_BUCKETS, ID_BUCKETS, Inputs

SCORING_POSITION = 1


@dataclass(frozen=True)
class ModelShape:
    numeric_inputs: int  # standardized values and missing flags
    categorical_fields: int
    max_position: int
    embed_dim: int = 16
    cross_layers: int = 2
    hidden: int = 64

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ClickModel(nn.Module):
    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.shape = shape
        dim = shape.embed_dim
        self.users = nn.Embedding(ID_BUCKETS, dim)
        self.items = nn.Embedding(ID_BUCKETS, dim)
        self.categories = nn.Embedding(CATEGORY_BUCKETS, dim, padding_idx=0)
        width = dim * (2 + shape.categorical_fields) + shape.numeric_inputs
        self.cross = nn.ModuleList(nn.Linear(width, width) for _ in range(shape.cross_layers))
        self.deep = nn.Sequential(
            nn.Linear(width, shape.hidden),
            nn.ReLU(),
            nn.Linear(shape.hidden, shape.hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(width + shape.hidden, 1)
        self.position_bias = nn.Embedding(shape.max_position + 1, 1)
        for table in (self.users, self.items, self.categories):
            # Small: an id seen rarely stays near the average user or item.
            nn.init.normal_(table.weight, std=0.01)
        nn.init.zeros_(self.position_bias.weight)

    def relevance_logit(self, inputs: Inputs) -> torch.Tensor:
        """The position-free logit, (n,)."""
        x0 = torch.cat(
            [
                self.users(inputs.users),
                self.items(inputs.items),
                self.categories(inputs.categorical).flatten(1),
                inputs.numeric,
            ],
            dim=1,
        )
        crossed = x0
        for layer in self.cross:  # DCN-v2: x_{l+1} = x0 * (W x_l + b) + x_l
            crossed = x0 * layer(crossed) + crossed
        return self.head(torch.cat([crossed, self.deep(x0)], dim=1)).squeeze(1)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        """The click logit at the logged positions, (n,)."""
        return self.relevance_logit(inputs) + self.position_bias(inputs.positions).squeeze(1)
