"""Rank items for every user of a split by beam search, in batches of similar history length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor

from components.core.progress import Progress
from components.evaluate.metrics import NO_ITEM
from components.policy.generation import beam_search
from components.policy.model import PAD, Policy, PolicyConfig, pad_histories
from components.policy.trie import SidTrie


@dataclass(frozen=True)
class EvalSplit:
    name: str
    histories: Tensor  # (N, W) left-padded codes
    targets: np.ndarray  # (N,) held-out item ids
    users: np.ndarray  # (N,) whose history each row is
    target_codes: Tensor  # (N, L) the held-out items' SIDs

    def __len__(self) -> int:
        return len(self.targets)


def eval_split(
    name: str, examples: pa.Table, config: PolicyConfig, max_users: int | None, seed: int = 0
) -> EvalSplit:
    """The split's users (a fixed random sample of ``max_users`` when given), by user id."""
    examples = examples.sort_by("user_id")
    if max_users is not None and max_users < examples.num_rows:
        keep = np.sort(np.random.default_rng(seed).choice(examples.num_rows, max_users, False))
        examples = examples.take(keep)
    history = examples.column("history_sids").combine_chunks()
    histories = pad_histories(np.asarray(history.values), np.asarray(history.offsets), config)
    targets = np.asarray(examples.column("target_item_id"), dtype=np.int64)
    users = np.asarray(examples.column("user_id"), dtype=np.int64)
    codes = examples.column("target_sid").combine_chunks().flatten().to_numpy().astype(np.int64)
    target_codes = torch.from_numpy(codes.reshape(len(targets), config.tokens_per_item))
    return EvalSplit(name, histories, targets, users, target_codes)


@torch.inference_mode()
def rank_items(
    policy: Policy,
    split: EvalSplit,
    items: SidTrie,
    constraint: SidTrie | None,
    beam_width: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's beam as item ids, best first (N, B), ``NO_ITEM`` for SIDs that ``items`` does
    not know, and which entries are real beams (a constraint with few items leaves -inf ones)."""
    lengths = (split.histories != PAD).sum(1)
    order = torch.argsort(lengths, stable=True)  # similar lengths together: little padding
    ranked = np.full((len(split), beam_width), NO_ITEM, dtype=np.int64)
    generated = np.zeros((len(split), beam_width), dtype=bool)
    label = f"beam search {split.name} ({'constrained' if constraint else 'unconstrained'})"
    progress = Progress(label, total=len(split), unit="users")
    for start in range(0, len(split), batch_size):
        rows = order[start : start + batch_size]
        width = int(lengths[rows].max())
        history = split.histories[rows][:, split.histories.shape[1] - width :]
        out = beam_search(policy, history, beam_width, constraint)
        found = out.items.shape[1]
        ranked[rows.numpy(), :found] = items.lookup(out.items).numpy()
        generated[rows.numpy(), :found] = torch.isfinite(out.logprobs).numpy()
        progress.advance(len(rows))
    progress.finish()
    ranked[~generated] = NO_ITEM
    return ranked, generated
