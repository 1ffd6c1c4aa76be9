"""Rank items for every user of a split by beam search, chunk by chunk (an in-memory split is one
chunk, a ``StreamedSplit`` reads several), in batches of similar history length."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

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

    def chunks(self) -> Iterator[tuple[np.ndarray, EvalSplit]]:
        """Itself, whole: an in-memory split is one chunk (see ``StreamedSplit``)."""
        yield np.arange(len(self)), self


class ScoredUsers(Protocol):
    """Users to rank, in chunks that each say where their users sit among all of them."""

    @property
    def name(self) -> str: ...

    def __len__(self) -> int: ...

    def chunks(self) -> Iterator[tuple[np.ndarray, EvalSplit]]: ...


def sample_rows(rows: int, max_users: int | None, seed: int) -> np.ndarray | None:
    """The rows of a fixed random sample of ``max_users`` of ``rows`` users in user order,
    ascending; None for all of them."""
    if max_users is None or max_users >= rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(rows, max_users, False))


def eval_split(
    name: str, examples: pa.Table, config: PolicyConfig, max_users: int | None, seed: int = 0
) -> EvalSplit:
    """The split's users (a fixed random sample of ``max_users`` when given), by user id."""
    examples = examples.sort_by("user_id")
    keep = sample_rows(examples.num_rows, max_users, seed)
    if keep is not None:
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
    split: ScoredUsers,
    items: SidTrie,
    constraint: SidTrie | None,
    beam_width: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's beam as item ids, best first (N, B), ``NO_ITEM`` for SIDs that ``items`` does
    not know, and which entries are real beams (a constraint with few items leaves -inf ones)."""
    ranked = np.full((len(split), beam_width), NO_ITEM, dtype=np.int64)
    generated = np.zeros((len(split), beam_width), dtype=bool)
    label = f"beam search {split.name} ({'constrained' if constraint else 'unconstrained'})"
    progress = Progress(label, total=len(split), unit="users")
    for positions, chunk in split.chunks():
        lengths = (chunk.histories != PAD).sum(1)
        order = torch.argsort(lengths, stable=True)  # similar lengths together: little padding
        for start in range(0, len(chunk), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            history = chunk.histories[rows][:, chunk.histories.shape[1] - width :]
            out = beam_search(policy, history, beam_width, constraint)
            found, at = out.items.shape[1], positions[rows.numpy()]
            ranked[at, :found] = items.lookup(out.items).numpy()
            generated[at, :found] = torch.isfinite(out.logprobs).numpy()
            progress.advance(len(rows))
    progress.finish()
    ranked[~generated] = NO_ITEM
    return ranked, generated
