"""A servable model speaks its own SIDs: histories and targets re-encoded through its catalog,
and recommendations limited to what it lists and what is listed today."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from components.policy.model import PAD, Policy, PolicyConfig
from components.policy.servable import ServableModel

CATALOG = pa.table(
    {
        "item_id": pa.array([30, 10, 20], pa.int64()),
        "sid": pa.array([[2, 2, 0], [0, 1, 0], [1, 0, 0]], pa.list_(pa.int32())),
        "listed": [True, True, False],
    }
)


def model() -> ServableModel:
    torch.manual_seed(0)
    config = PolicyConfig(vocab_sizes=(3, 3, 2), max_history_items=4, d_model=8, n_head=2,
                          n_layer=1, prefix_buckets=0)  # fmt: skip
    return ServableModel(Policy(config).eval(), CATALOG, sid_version=2)


def test_examples_are_encoded_in_the_models_own_sids() -> None:
    examples = pa.table(
        {
            "user_id": [1, 2],
            "history_item_ids": pa.array([[10, 99, 30], [99]], pa.list_(pa.int64())),
            "history_sids": pa.array([[7] * 9, [7] * 3], pa.list_(pa.int32())),  # another codebook
            "target_item_id": pa.array([20, 77], pa.int64()),
            "target_sid": pa.array([[7, 7, 7], [7, 7, 7]], pa.list_(pa.int32())),
        }
    )

    encoded = model().encode_examples(examples)

    # Item 99 has no SID in this model: it leaves the history; target 77 cannot be generated.
    assert encoded.column("history_sids").to_pylist() == [[0, 1, 0, 2, 2, 0], []]
    assert encoded.column("target_sid").to_pylist() == [[1, 0, 0], [PAD, PAD, PAD]]
    assert encoded.column("user_id").to_pylist() == [1, 2]


def test_recommendable_items_are_listed_in_the_model_and_today() -> None:
    decode, recommendable = model().tries(listed_today=np.array([10, 20]))

    every = decode.lookup(torch.tensor([[2, 2, 0], [0, 1, 0], [1, 0, 0]]))
    assert every.tolist() == [30, 10, 20]
    # 20 is not listed in the model's catalog, 30 not today: only 10 remains.
    assert recommendable.lookup(torch.tensor([[0, 1, 0], [2, 2, 0]])).tolist() == [10, -1]
