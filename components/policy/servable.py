"""A policy with the SID catalog it speaks: what is blessed, registered and served.

A policy trained on one codebook version reads and writes SIDs of that version only. Scoring it
on a day whose training set uses another version, or serving it, goes through its own catalog:
histories (item ids) are encoded with its SIDs, leaving out the items it has no SID for, and the
SIDs it generates are decoded back to item ids. What it may recommend is its listed items, and of
those only the ones listed today when today's catalog is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from components.policy.model import PAD, Policy
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

    def encode_examples(self, examples: pa.Table) -> pa.Table:
        """``examples`` (history_item_ids, target_item_id, ...) with ``history_sids`` and
        ``target_sid`` in this model's SIDs. Items it has no SID for leave the histories; a
        target it has no SID for gets PAD tokens: it can never generate it, so it is a miss."""
        history = examples.column("history_item_ids").combine_chunks()
        rows = self._rows(np.asarray(history.values, dtype=np.int64))
        owner = np.repeat(np.arange(len(history)), np.diff(np.asarray(history.offsets)))
        known = rows >= 0
        tokens = self._tokens()
        width = tokens.shape[1]
        lengths = np.bincount(owner[known], minlength=len(history)) * width
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int32())
        history_sids = pa.ListArray.from_arrays(offsets, pa.array(tokens[rows[known]].ravel()))
        targets = self._rows(np.asarray(examples.column("target_item_id"), dtype=np.int64))
        target_tokens = np.where((targets >= 0)[:, None], tokens[np.maximum(targets, 0)], PAD)
        target_offsets = pa.array(np.arange(len(targets) + 1) * width, pa.int32())
        target_sid = pa.ListArray.from_arrays(target_offsets, pa.array(target_tokens.ravel()))
        for name, column in (("history_sids", history_sids), ("target_sid", target_sid)):
            examples = examples.set_column(examples.column_names.index(name), name, column)
        return examples

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
