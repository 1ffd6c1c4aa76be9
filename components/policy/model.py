"""The policy: a small decoder-only transformer over semantic-ID tokens (nanoGPT style).

A user's sequence is laid out as ``BOS [item tokens] [item tokens] ...``: each item is ``L`` tokens
(codes per level, then the de-dup token), and the model predicts every token from the ones before
it, GPT style. Positions count from BOS, so item ``i`` of a sequence sits at the same positions
whether it is a training target inside a longer sequence or the item generated after an
``i``-item history: one pass over a user's sequence trains every next-item prediction in it.

Decoder-only rather than encoder-decoder: the history is encoded once into a KV cache that every
beam or rollout shares by expanding the cache, and each generated token then costs one position,
so beam search and GRPO rollouts are cheap; one stack of blocks is also simpler to read and train.

Token ids: one embedding table holds every token position's vocabulary side by side; code ``c`` at
position ``p`` of an item uses id ``offset_p + c``, then come BOS and PAD. The output head has one
row per code in the same layout and step ``p`` scores only position ``p``'s slice of it. It is not
tied to the input table: the state that predicts a code is a different thing from the code as
context.

SID-prefix embeddings: a code means something only under the codes before it (code 17 of level 2
is a different cluster under each level-1 code), and the last token's prefix is the whole SID,
that is the item itself. So every item token also adds an embedding of its prefix, hashed into
``prefix_buckets`` rows: the model sees which cluster and which item a token stands for without
having to compose it from per-level codes. Alone, the table lets the model memorise its training
sequences; dropping it for a share of the tokens in training (``prefix_dropout``) makes the model
generalise. Hashing keeps the model free of any catalog: a new item's prefixes land in some
bucket, and the code embeddings carry what its prefixes never saw.

What these choices measured on Amazon Beauty is in docs/experiments.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

PAD = -1  # history code of a padding slot (histories are left-padded to whole items)
# Bumped whenever saved weights of an older version no longer load: 2 = untied output head,
# 3 = SID-prefix embeddings.
FORMAT = 3


@dataclass(frozen=True)
class PolicyConfig:
    vocab_sizes: tuple[int, ...]  # codes per token position of an item, e.g. (256, 256, 256, 256)
    max_history_items: int = 20
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    dropout: float = 0.0
    prefix_buckets: int = 0  # rows of the hashed SID-prefix embedding table; 0 = no table
    prefix_dropout: float = 0.0  # share of tokens trained without their prefix embedding

    @property
    def tokens_per_item(self) -> int:
        return len(self.vocab_sizes)

    @property
    def max_history_tokens(self) -> int:
        return self.max_history_items * self.tokens_per_item

    @property
    def block_size(self) -> int:
        """BOS, the history and the first ``L - 1`` item tokens (the last one is only predicted)."""
        return self.max_history_tokens + self.tokens_per_item

    @property
    def max_sequence_items(self) -> int:
        """Items in one training sequence: a full history and the item that follows it."""
        return self.max_history_items + 1


def pad_histories(
    values: np.ndarray | Sequence[int], offsets: np.ndarray | Sequence[int], config: PolicyConfig
) -> Tensor:
    """Left-padded ``(N, W)`` history codes from a flattened list column (Arrow's values and
    offsets), keeping each user's last ``max_history_items`` items; ``W`` is the longest kept."""
    values_np = np.asarray(values, dtype=np.int64)
    offsets_np = np.asarray(offsets, dtype=np.int64)
    starts, ends = offsets_np[:-1], offsets_np[1:]
    lengths = np.minimum(ends - starts, config.max_history_tokens)
    width = int(lengths.max(initial=0))
    index = ends[:, None] - width + np.arange(width)[None, :]
    valid = index >= (ends - lengths)[:, None]
    padded = np.where(valid, values_np[np.clip(index, 0, max(len(values_np) - 1, 0))], PAD)
    return torch.from_numpy(padded)


PREFIX_MODULUS = 2_147_483_647  # a Mersenne prime: keys stay below 2**31, products below 2**63
PREFIX_BASE, PREFIX_MIX = 1_000_003, 1_000_000_007


def prefix_keys(codes: Tensor, carry: Tensor | None = None) -> Tensor:
    """A key for each token's SID prefix (its item's codes up to and including it): a rolling
    hash, 1 .. 2**31 - 1, equal prefixes equal keys. ``codes`` (..., k) are consecutive tokens of
    one item, following tokens whose key is ``carry`` (...,) or starting the item when None.
    PAD gets key 0 (no prefix)."""
    key = codes.new_zeros(codes.shape[:-1]) if carry is None else carry
    keys = []
    for j in range(codes.shape[-1]):
        key = (key * PREFIX_BASE + codes[..., j]) % PREFIX_MODULUS + 1
        keys.append(key)
    return torch.stack(keys, -1).masked_fill(codes == PAD, 0)


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far. The history's (with BOS) are stored once per
    user and shared by the user's ``group`` rows (beams or rollouts); only the few item tokens
    are stored per row, so expanding to beams and reordering them copies almost nothing."""

    history_keys: list[Tensor]  # per layer (N, n_head, T, head_dim)
    history_values: list[Tensor]
    history_mask: Tensor  # (N, T) bool, false on history padding
    item_keys: list[Tensor]  # per layer (N * group, n_head, step, head_dim)
    item_values: list[Tensor]
    item_start: Tensor  # (N,) position of each user's first item token (after BOS and history)
    item_prefix: Tensor  # (N * group,) key of each row's item tokens so far (see prefix_keys)
    group: int  # rows per user; row r belongs to user r // group
    step: int  # item tokens fed after the history; the next logits are for item position ``step``

    def expand(self, n: int) -> KVCache:
        """Each row repeated ``n`` times in a row (row ``r`` becomes rows ``r*n .. r*n+n-1``)."""
        rows = torch.arange(len(self.history_mask) * self.group, device=self.history_mask.device)
        return self.select(rows.repeat_interleave(n), self.group * n)

    def select(self, rows: Tensor, group: int) -> KVCache:
        """The rows ``rows`` (``group`` per user, each taken from that same user's rows): beam
        search keeps its surviving beams with it."""
        return replace(
            self,
            item_keys=[k[rows] for k in self.item_keys],
            item_values=[v[rows] for v in self.item_values],
            item_prefix=self.item_prefix[rows],
            group=group,
        )


class SelfAttention(nn.Module):
    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        assert config.d_model % config.n_head == 0
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.dropout = config.dropout

    def forward(
        self, x: Tensor, mask: Tensor | None, cache: KVCache | None, layer: int
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Without ``cache``: attention within ``x`` under ``mask`` (N, 1, t, t), or causal when
        ``mask`` is None, returning this layer's keys and values. With it: ``x`` are new item
        tokens, returning the grown item keys and values."""
        n, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (z.view(n, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        if cache is None:
            dropout = self.dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=mask is None
            )
        else:
            k = torch.cat([cache.item_keys[layer], k], dim=2)
            v = torch.cat([cache.item_values[layer], v], dim=2)
            y = self._attend_cached(q, k, v, cache, layer)
        return self.proj(y.transpose(1, 2).reshape(n, t, d)), (k, v)

    def _attend_cached(self, q: Tensor, k: Tensor, v: Tensor, cache: KVCache, layer: int) -> Tensor:
        """Softmax over the user's shared history keys and the row's own item keys together."""
        rows, h, t, hd = q.shape
        n, g, span = len(cache.history_mask), cache.group, cache.history_mask.shape[1]
        # All rows of a user query the history at once: (N, h, g * t, T).
        q_user = q.view(n, g, h, t, hd).transpose(1, 2).reshape(n, h, g * t, hd)
        s_hist = (q_user @ cache.history_keys[layer].transpose(-2, -1)) / math.sqrt(hd)
        s_hist = s_hist.masked_fill(~cache.history_mask[:, None, None, :], float("-inf"))
        s_hist = s_hist.view(n, h, g, t, span).transpose(1, 2).reshape(rows, h, t, span)
        s_item = (q @ k.transpose(-2, -1)) / math.sqrt(hd)  # (rows, h, t, step + t)
        causal = torch.ones(t, k.shape[2], dtype=torch.bool, device=q.device).tril(k.shape[2] - t)
        s_item = s_item.masked_fill(~causal, float("-inf"))
        att = F.softmax(torch.cat([s_hist, s_item], -1), dim=-1)
        att = F.dropout(att, self.dropout, self.training)
        a_hist, a_item = att.split([span, k.shape[2]], dim=-1)
        a_user = a_hist.reshape(n, g, h, t, span).transpose(1, 2).reshape(n, h, g * t, span)
        y_hist = (a_user @ cache.history_values[layer]).view(n, h, g, t, hd).transpose(1, 2)
        return y_hist.reshape(rows, h, t, hd) + a_item @ v


class Block(nn.Module):
    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, 4 * config.d_model),
            nn.GELU(),
            nn.Linear(4 * config.d_model, config.d_model),
            nn.Dropout(config.dropout),
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self, x: Tensor, mask: Tensor | None, cache: KVCache | None, layer: int
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.ln_1(x), mask, cache, layer)
        x = x + self.drop(a)
        return x + self.mlp(self.ln_2(x)), kv


class Policy(nn.Module):
    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        sizes = torch.tensor(config.vocab_sizes)
        self.offsets: Tensor  # id of code 0 at each token position
        self.register_buffer("offsets", torch.cumsum(sizes, 0) - sizes, persistent=False)
        self.code_offsets = self.offsets.tolist()  # the same as ints: no device sync per step
        self.n_codes = int(sizes.sum())
        self.bos_id, self.pad_id = self.n_codes, self.n_codes + 1
        self.tok_emb = nn.Embedding(self.n_codes + 2, config.d_model)
        self.pos_emb = nn.Embedding(config.block_size, config.d_model)
        self.prefix_emb = (  # bucket 0: no prefix (BOS, padding)
            nn.Embedding(config.prefix_buckets, config.d_model, padding_idx=0)
            if config.prefix_buckets
            else None
        )
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, self.n_codes, bias=False)
        self.apply(self._init_weights)
        # GPT-2: scale the residual projections by depth so the residual stream stays small.
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, history: Tensor, items: Tensor) -> Tensor:
        """Teacher-forced logits of one item after each history, in one pass without a cache.

        ``history`` (N, W) left-padded codes, ``items`` (N, k) the first ``k < L`` item tokens
        (``target[:, :-1]`` for a whole target). Returns (N, k + 1, V_max): the logits of item
        positions ``0..k``, ``-inf`` beyond each position's vocabulary.
        """
        self._check_history(history)
        ids, valid = self._with_bos(history)
        ids = torch.cat([ids, self._item_ids(items, first_step=0)], 1)
        valid = torch.cat([valid, torch.ones_like(items, dtype=torch.bool)], 1)
        prefixes = torch.cat([self._history_prefixes(history), prefix_keys(items)], 1)
        h, _ = self._run(ids, self._positions(valid), self._mask(valid), prefixes)
        return self._logits(h[:, -(items.shape[1] + 1) :], first_step=0)

    def forward_sequences(self, codes: Tensor) -> Tensor:
        """Teacher-forced logits of every token of whole-item sequences (training).

        ``codes`` (N, S * L) right-padded with ``PAD``, at most ``max_sequence_items`` items.
        Returns (N, S * L, V_max): ``[:, j]`` scores ``codes[:, j]`` given BOS and the codes
        before it, so the logits of item ``i`` are those of the item after an ``i``-item history.
        """
        n, t = codes.shape
        length = self.config.tokens_per_item
        assert t % length == 0 and t // length <= self.config.max_sequence_items, "bad sequence"
        valid = torch.cat([codes.new_ones((n, 1), dtype=torch.bool), codes[:, :-1] != PAD], 1)
        bos = codes.new_full((n, 1), self.bos_id)
        position = torch.arange(t - 1, device=codes.device) % length
        ids = torch.where(valid[:, 1:], self.offsets[position] + codes[:, :-1], self.pad_id)
        # Right padding: positions are the column index and the causal mask alone hides padding
        # from every real token.
        fed = prefix_keys(codes.view(n, t // length, length)).flatten(1)[:, :-1]
        prefixes = torch.cat([bos.new_zeros((n, 1)), fed], 1)
        positions = torch.arange(t, device=codes.device)
        h, _ = self._run(torch.cat([bos, ids], 1), positions, None, prefixes)
        return self._logits(h, first_step=0)

    def prefill(self, history: Tensor) -> tuple[Tensor, KVCache]:
        """Encode BOS and the history once: the logits of item position 0 (N, V_max), the cache."""
        self._check_history(history)
        ids, valid = self._with_bos(history)
        prefixes = self._history_prefixes(history)
        h, kvs = self._run(ids, self._positions(valid), self._mask(valid), prefixes)
        empty = [key[:, :, :0] for key, _ in kvs]
        keys, values = [key for key, _ in kvs], [value for _, value in kvs]
        cache = KVCache(
            keys, values, valid, empty, empty, item_start=valid.sum(1),
            item_prefix=history.new_zeros(len(history)), group=1, step=0,
        )  # fmt: skip
        return self._logits(h[:, -1:], first_step=0)[:, 0], cache

    def extend(self, codes: Tensor, cache: KVCache) -> tuple[Tensor, KVCache]:
        """Feed item tokens ``codes`` (rows, k) at positions ``cache.step ..``: the logits of the
        positions after each one (rows, k, V_max) and the grown cache (the given one is kept)."""
        k = codes.shape[1]
        assert cache.step + k < self.config.tokens_per_item, "the last item token is never fed"
        start = cache.item_start.repeat_interleave(cache.group) + cache.step
        positions = start[:, None] + torch.arange(k, device=codes.device)
        prefixes = prefix_keys(codes, cache.item_prefix)
        ids = self._item_ids(codes, first_step=cache.step)
        h, kvs = self._run(ids, positions, None, prefixes, cache)
        keys, values = [key for key, _ in kvs], [value for _, value in kvs]
        grown = replace(
            cache, item_keys=keys, item_values=values, item_prefix=prefixes[:, -1],
            step=cache.step + k,
        )  # fmt: skip
        return self._logits(h, first_step=cache.step + 1), grown

    @staticmethod
    def _mask(key_valid: Tensor) -> Tensor:
        """(N, 1, T, T): causal, padding hidden; a padding query sees itself so that its softmax
        is defined."""
        index = torch.arange(key_valid.shape[1], device=key_valid.device)
        query, key = index[:, None], index[None, :]
        return (key <= query) & (key_valid[:, None, None, :] | (key == query))

    @staticmethod
    def _positions(valid: Tensor) -> Tensor:
        """(N, T) position of each token counted from BOS, skipping the left padding."""
        return (valid.long().cumsum(1) - 1).clamp(min=0)

    def _run(
        self,
        ids: Tensor,
        positions: Tensor,
        mask: Tensor | None,
        prefixes: Tensor,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """The blocks over tokens ``ids`` (rows, t) at ``positions`` ((t,) or (rows, t)) whose
        SID prefixes have keys ``prefixes`` (rows, t; 0 for none): final hidden states and each
        layer's keys and values (see ``SelfAttention``)."""
        x = self.tok_emb(ids) + self.pos_emb(positions)
        if self.prefix_emb is not None:
            x = x + self._prefix_embedding(self.prefix_emb, prefixes)
        x = self.drop(x)
        kvs = []
        for layer, block in enumerate(self.blocks):
            x, kv = block(x, mask, cache, layer)
            kvs.append(kv)
        return self.ln_f(x), kvs

    def _logits(self, h: Tensor, first_step: int) -> Tensor:
        """Hidden state ``i`` of ``h`` (N, t, d) predicts item position ``(first_step + i) % L``,
        scored against that position's rows of the head only and padded with ``-inf`` to the
        largest vocabulary."""
        v_max, length = max(self.config.vocab_sizes), self.config.tokens_per_item
        out = h.new_full((*h.shape[:2], v_max), float("-inf"), dtype=torch.float32)
        for i in range(min(length, h.shape[1])):  # one matmul per item position
            p = (first_step + i) % length
            offset, size = self.code_offsets[p], self.config.vocab_sizes[p]
            weight = self.head.weight[offset : offset + size]
            out[:, i::length, :size] = (h[:, i::length] @ weight.T).float()
        return out

    def _check_history(self, history: Tensor) -> None:
        assert history.shape[1] <= self.config.max_history_tokens, "history longer than the model"
        assert history.shape[1] % self.config.tokens_per_item == 0, "history must be whole items"

    def _with_bos(self, history: Tensor) -> tuple[Tensor, Tensor]:
        """Token ids ``BOS, history`` (N, 1 + W) and which of them are real (not padding)."""
        position = torch.arange(history.shape[1], device=history.device)
        ids = self.offsets[position % self.config.tokens_per_item] + history
        ids = torch.where(history == PAD, self.pad_id, ids)
        bos = history.new_full((history.shape[0], 1), self.bos_id)
        valid = torch.cat([torch.ones_like(bos, dtype=torch.bool), history != PAD], 1)
        return torch.cat([bos, ids], 1), valid

    def _prefix_embedding(self, table: nn.Embedding, prefixes: Tensor) -> Tensor:
        """Each prefix key's row (bucket 0, all zeros, for none); in training, whole rows are
        dropped per token with probability ``prefix_dropout`` and the rest rescaled."""
        mixed = prefixes * PREFIX_MIX % PREFIX_MODULUS % (self.config.prefix_buckets - 1)
        rows = table(torch.where(prefixes == 0, 0, 1 + mixed))
        share = self.config.prefix_dropout
        if not (self.training and share):
            return rows
        keep = torch.rand(rows.shape[:-1], device=rows.device) >= share
        return rows * keep[..., None] / (1 - share)

    def _history_prefixes(self, history: Tensor) -> Tensor:
        """Prefix keys of ``BOS, history`` (N, 1 + W): none for BOS, then item by item."""
        n, width, length = *history.shape, self.config.tokens_per_item
        keys = prefix_keys(history.view(n, width // length, length)).flatten(1)
        return torch.cat([history.new_zeros((n, 1)), keys], 1)

    def _item_ids(self, codes: Tensor, first_step: int) -> Tensor:
        position = torch.arange(first_step, first_step + codes.shape[1], device=codes.device)
        return self.offsets[position] + codes
