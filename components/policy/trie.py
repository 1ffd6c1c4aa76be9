"""Prefix trie over the catalog's semantic IDs, as tensors, for constrained decoding.

Every prefix of ``p`` tokens is packed into one int64 key (mixed radix over the per-position
vocabularies); depth ``p`` keeps its sorted prefix keys and a boolean row of allowed next tokens per
prefix, so one ``searchsorted`` gives the allowed-token mask for a whole batch of beams at once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from torch import Tensor


class SidTrie:
    def __init__(self, items: Tensor, item_ids: Tensor, vocab_sizes: tuple[int, ...]) -> None:
        """``items`` (M, L) the valid token sequences, ``item_ids`` (M,) the item of each row."""
        assert items.ndim == 2 and items.shape[1] == len(vocab_sizes) and len(items) > 0
        assert float(np.prod(vocab_sizes, dtype=np.float64)) < 2**62, "keys would overflow int64"
        self.vocab_sizes = vocab_sizes
        self.v_max = max(vocab_sizes)
        items = items.long()
        self.prefix_keys: list[Tensor] = []  # per depth p: sorted keys of the valid p-prefixes
        self.allowed_next: list[Tensor] = []  # per depth p: (n_p, V_max) bool
        for p in range(len(vocab_sizes)):
            keys, inverse = torch.unique(self._key(items[:, :p]), sorted=True, return_inverse=True)
            allowed = torch.zeros(len(keys), self.v_max, dtype=torch.bool)
            allowed[inverse, items[:, p]] = True
            self.prefix_keys.append(keys)
            self.allowed_next.append(allowed)
        self.item_keys, order = torch.sort(self._key(items))
        self.item_ids = item_ids.long()[order]

    @classmethod
    def from_catalog(
        cls, catalog: pa.Table, vocab_sizes: tuple[int, ...], listed_only: bool = True
    ) -> SidTrie:
        """The items of ``catalog_sids.parquet`` (item_id, sid, listed): the listed ones (what
        may be recommended), or all that have a SID (what a generated SID can mean)."""
        listed = catalog.filter(catalog.column("listed")) if listed_only else catalog
        sids = listed.column("sid").combine_chunks()
        tokens = np.asarray(sids.flatten(), dtype=np.int64).reshape(len(listed), len(vocab_sizes))
        ids = np.asarray(listed.column("item_id"), dtype=np.int64)
        return cls(torch.tensor(tokens), torch.tensor(ids), vocab_sizes)

    def to(self, device: torch.device | str) -> SidTrie:
        self.prefix_keys = [k.to(device) for k in self.prefix_keys]
        self.allowed_next = [a.to(device) for a in self.allowed_next]
        self.item_keys, self.item_ids = self.item_keys.to(device), self.item_ids.to(device)
        return self

    def allowed(self, prefixes: Tensor) -> Tensor:
        """(N, V_max) bool: the tokens that extend each prefix (N, p) towards a catalog item;
        all false for a prefix that no item has."""
        p = prefixes.shape[1]
        keys, table = self.prefix_keys[p], self.allowed_next[p]
        row, found = self._find(keys, self._key(prefixes))
        return table[row] & found[:, None]

    def lookup(self, items: Tensor) -> Tensor:
        """The item id of each token sequence (..., L), or -1 where no catalog item has it."""
        row, found = self._find(self.item_keys, self._key(items))
        return torch.where(found, self.item_ids[row], -1)

    def contains(self, items: Tensor) -> Tensor:
        return self.lookup(items) >= 0

    def _key(self, tokens: Tensor) -> Tensor:
        key = torch.zeros(tokens.shape[:-1], dtype=torch.long, device=tokens.device)
        for p in range(tokens.shape[-1]):
            key = key * self.vocab_sizes[p] + tokens[..., p].long()
        return key

    @staticmethod
    def _find(sorted_keys: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        row = torch.searchsorted(sorted_keys, keys.contiguous()).clamp(max=len(sorted_keys) - 1)
        return row, sorted_keys[row] == keys
