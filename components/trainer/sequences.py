"""Training sequences: every training target of a user exactly once, in whole-item sequences.

The dataset has one example per target (the up-to-``H``-item history before it). A decoder
trains all next-item predictions of a sequence in one pass, so the examples are folded into
sequences: per user, the example of the last target and then every ``H``-th one before it, each
taken as ``history + target``. In a sequence every item but the first is a target, so the
sequences cover each training target once, each with up to ``H`` items of context, at about a
sixth of the tokens of feeding the examples one by one (Amazon Beauty: 131k examples, 22k users).

Sequences are shuffled into batches from a seeded generator, and sequences of similar length are
grouped to avoid padding (``shuffled_batches``); ``stream.py`` holds a split's sequences a window
at a time and seeds each window's shuffle, so that a resumed run sees exactly the batches the
killed run would have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor

from components.policy.model import PAD

SORT_WINDOW = 64  # batches shuffled together, then grouped by length within the window


@dataclass(frozen=True)
class Sequences:
    codes: Tensor  # (M, S * L) int64, right-padded with PAD
    items: Tensor  # (M,) items in each sequence (the first is context only)
    tokens_per_item: int
    users: Tensor  # (M,) the user of each sequence (the reward scores their history)
    last_items: Tensor  # (M,) item id of each sequence's last item: the RL ground truth

    def __len__(self) -> int:
        return len(self.items)

    @property
    def targets(self) -> int:
        return int(self.items.sum()) - len(self)

    def take(self, index: np.ndarray) -> Sequences:
        """The sequences at ``index``, in that order."""
        rows = torch.from_numpy(index)
        return Sequences(
            self.codes[rows],
            self.items[rows],
            self.tokens_per_item,
            self.users[rows],
            self.last_items[rows],
        )

    def shuffled_batches(self, rng: np.random.Generator, batch_size: int) -> list[np.ndarray]:
        """All sequences as batches of indices, in order: shuffled, grouped by length within
        windows of ``SORT_WINDOW`` batches, the batches shuffled; a function of ``rng``'s state."""
        order = rng.permutation(len(self))
        window = batch_size * SORT_WINDOW
        batches: list[np.ndarray] = []
        for start in range(0, len(order), window):
            chunk = order[start : start + window]
            chunk = chunk[np.argsort(self.items.numpy()[chunk], kind="stable")]
            batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def last_examples(self, index: np.ndarray) -> tuple[Tensor, Tensor]:
        """Each sequence's last item as one example: its history (B, H * L) left-padded with PAD,
        as generation takes it, and its codes (B, L)."""
        length = self.tokens_per_item
        rows = torch.from_numpy(index)
        codes, items = self.codes[rows], self.items[rows]
        width = self.codes.shape[1] - length
        end = (items - 1) * length  # where each last item starts
        columns = torch.arange(width)[None, :] - (width - end)[:, None]  # right-aligned history
        history = codes.gather(1, columns.clamp(min=0))
        history = history.masked_fill(columns < 0, PAD)
        target = codes.gather(1, end[:, None] + torch.arange(length)[None, :])
        return history, target

    def batch(self, index: np.ndarray) -> tuple[Tensor, Tensor]:
        """Codes (B, T) trimmed to the longest sequence, and the targets: the same codes with
        PAD over each sequence's first item (context, never predicted)."""
        longest = int(self.items[index].max()) * self.tokens_per_item
        codes = self.codes[torch.from_numpy(index), :longest]
        targets = codes.clone()
        targets[:, : self.tokens_per_item] = PAD
        return codes, targets


def fold_examples(examples: pa.Table, tokens_per_item: int, max_history: int) -> Sequences:
    """Fold one-target examples (``user_id, target_index, history_sids, target_sid,
    target_item_id``) into sequences; ``max_history`` is the history cap the examples were
    built with."""
    if examples.num_rows == 0:
        raise ValueError("no training examples to fold into sequences")
    users = np.asarray(examples.column("user_id"), dtype=np.int64)
    index = np.asarray(examples.column("target_index"), dtype=np.int64)
    # Per user: the last target, then every max_history-th target before it.
    _, user = np.unique(users, return_inverse=True)
    last = np.full(user.max() + 1, -1, dtype=np.int64)
    np.maximum.at(last, user, index)
    keep = np.flatnonzero((last[user] - index) % max_history == 0)

    history = examples.column("history_sids").take(keep).combine_chunks()
    target = examples.column("target_sid").take(keep).combine_chunks()
    history_len = np.diff(np.asarray(history.offsets)) // tokens_per_item
    if np.any(np.diff(np.asarray(target.offsets)) != tokens_per_item):
        raise ValueError(f"every target SID must have {tokens_per_item} tokens")
    if history_len.max(initial=0) > max_history:
        raise ValueError(f"histories are longer than max_history={max_history}")
    items = history_len + 1
    width = (max_history + 1) * tokens_per_item
    codes = np.full((len(keep), width), PAD, dtype=np.int64)
    # Each row: its history tokens from column 0, then its target's tokens.
    lengths = history_len * tokens_per_item
    flat = np.asarray(history.flatten(), dtype=np.int64)
    rows = np.repeat(np.arange(len(keep)), lengths)
    codes[rows, np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)] = flat
    target_columns = lengths[:, None] + np.arange(tokens_per_item)
    codes[np.arange(len(keep))[:, None], target_columns] = np.asarray(
        target.flatten(), dtype=np.int64
    ).reshape(-1, tokens_per_item)
    return Sequences(
        torch.from_numpy(codes),
        torch.from_numpy(items),
        tokens_per_item,
        users=torch.from_numpy(users[keep]),
        last_items=torch.from_numpy(
            examples.column("target_item_id").take(keep).to_numpy().astype(np.int64)
        ),
    )


def concat_sequences(parts: list[Sequences]) -> Sequences:
    """The sequences of ``parts``, in order (all folded with the same tokens per item)."""
    return Sequences(
        torch.cat([part.codes for part in parts]),
        torch.cat([part.items for part in parts]),
        parts[0].tokens_per_item,
        torch.cat([part.users for part in parts]),
        torch.cat([part.last_items for part in parts]),
    )
