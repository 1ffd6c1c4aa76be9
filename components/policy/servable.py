"""A policy with the SID catalog it speaks: what is blessed, registered and served.

A policy trained on one codebook version reads and writes SIDs of that version only. Scoring it
on a day whose training set uses another version, or serving it, goes through its own catalog:
histories (item ids) are encoded with its SIDs, leaving out the items it has no SID for, and the
SIDs it generates are decoded back to item ids. What it may recommend is its listed items, and of
those only the ones listed today when today's catalog is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from components.policy.generation import beam_search
from components.policy.model import PAD, Policy, pad_histories
from components.policy.trie import SidTrie


@dataclass(frozen=True)
class ServableModel:
    policy: Policy
    catalog: pa.Table  # catalog_sids.parquet of its training set: item_id, sid, listed
    sid_version: int

    def tries(self, listed_today: np.ndarray | None = None) -> tuple[SidTrie, SidTrie]:
        """Every item it has a SID for (to decode what it generates), and the items it may
        recommend: listed in its catalog and, given ``listed_today`` (item ids), among those."""
        vocab = self.policy.config.vocab_sizes
        listed = self.catalog.filter(self.catalog.column("listed"))
        if listed_today is not None:
            ids = np.asarray(listed.column("item_id"), dtype=np.int64)
            listed = listed.filter(pa.array(np.isin(ids, listed_today)))
        decode = SidTrie.from_catalog(self.catalog, vocab, listed_only=False)
        return decode, SidTrie.from_catalog(listed, vocab, listed_only=False)

    @torch.inference_mode()
    def recommend(
        self, histories: Sequence[Sequence[int]], k: int, beam_width: int, recommendable: SidTrie
    ) -> list[list[int]]:
        """The top ``k`` item ids for each history of item ids, by beam search within
        ``recommendable`` (see ``tries``); an empty list for a history with no item it knows."""
        lengths = np.array([len(h) for h in histories])
        flat = np.fromiter((i for h in histories for i in h), np.int64, int(lengths.sum()))
        values, offsets = self.encode_histories(flat, np.concatenate([[0], np.cumsum(lengths)]))
        known = np.flatnonzero(np.diff(offsets) > 0)
        out: list[list[int]] = [[] for _ in histories]
        if len(known) == 0:
            return out
        padded = pad_histories(values, offsets, self.policy.config)[torch.from_numpy(known)]
        generated = beam_search(self.policy, padded, max(beam_width, k), recommendable)
        items = recommendable.lookup(generated.items)
        real = torch.isfinite(generated.logprobs) & (items >= 0)
        for row, index in enumerate(known):
            out[index] = items[row][real[row]][:k].tolist()
        return out

    def encode_examples(self, examples: pa.Table) -> pa.Table:
        """``examples`` (history_item_ids, target_item_id, ...) with ``history_sids`` and
        ``target_sid`` in this model's SIDs. Items it has no SID for leave the histories; a
        target it has no SID for gets PAD tokens: it can never generate it, so it is a miss."""
        history = examples.column("history_item_ids").combine_chunks()
        values, offsets = self.encode_histories(
            np.asarray(history.values, dtype=np.int64), np.asarray(history.offsets)
        )
        history_sids = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values))
        tokens = self._tokens()
        targets = self._rows(np.asarray(examples.column("target_item_id"), dtype=np.int64))
        target_tokens = np.where((targets >= 0)[:, None], tokens[np.maximum(targets, 0)], PAD)
        target_offsets = pa.array(np.arange(len(targets) + 1) * tokens.shape[1], pa.int32())
        target_sid = pa.ListArray.from_arrays(target_offsets, pa.array(target_tokens.ravel()))
        for name, column in (("history_sids", history_sids), ("target_sid", target_sid)):
            examples = examples.set_column(examples.column_names.index(name), name, column)
        return examples

    def encode_histories(
        self, item_ids: np.ndarray, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Histories given as flattened item ids and row offsets (Arrow's list layout), as the
        flattened tokens of the items this model has a SID for, and their row offsets."""
        rows = self._rows(item_ids)
        known = rows >= 0
        tokens = self._tokens()
        owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        lengths = np.bincount(owner[known], minlength=len(offsets) - 1) * tokens.shape[1]
        return tokens[rows[known]].ravel(), np.concatenate([[0], np.cumsum(lengths)])

    def _tokens(self) -> np.ndarray:
        """(items, tokens per item) int32, in catalog order."""
        sids = self.catalog.column("sid").combine_chunks()
        return np.asarray(sids.values, dtype=np.int32).reshape(len(sids), -1)

    def _rows(self, item_ids: np.ndarray) -> np.ndarray:
        """The catalog row of each item id, -1 for items without a SID."""
        ids = np.asarray(self.catalog.column("item_id"), dtype=np.int64)
        order = np.argsort(ids)
        position = np.minimum(np.searchsorted(ids[order], item_ids), len(ids) - 1)
        found = ids[order][position] == item_ids
        return np.where(found, order[position], -1)
