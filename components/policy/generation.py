"""Batched generation from the policy: beam search, rollout sampling, teacher-forced log-probs.

Each encodes the histories once (``prefill``) and expands the KV cache across beams or rollouts,
then loops over the ``L`` item tokens only; there is no loop over samples. With a ``SidTrie``,
tokens that lead to no catalog item are masked before the softmax, so probabilities are
renormalized over valid continuations at every step and only catalog items come out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from components.policy.model import Policy
from components.policy.trie import SidTrie


@dataclass(frozen=True)
class Generated:
    items: Tensor  # (N, K, L) token codes of K items per history
    token_logprobs: Tensor  # (N, K, L) per token, under the decoding distribution

    @property
    def logprobs(self) -> Tensor:
        """(N, K) log-probability of each item under the decoding distribution."""
        return self.token_logprobs.sum(-1)


def _step_logprobs(
    logits: Tensor, prefixes: Tensor, trie: SidTrie | None, temperature: float = 1.0
) -> Tensor:
    """Log-softmax over the next token (rows, V_max), restricted to the trie when given."""
    if trie is not None:
        logits = logits.masked_fill(~trie.allowed(prefixes), float("-inf"))
    logp = F.log_softmax(logits / temperature, dim=-1)
    # A dead beam (a prefix that no item has) would get NaN: make it -inf so it sorts last.
    return logp.masked_fill(logp.isnan(), float("-inf"))


@torch.no_grad()
def beam_search(
    model: Policy, history: Tensor, beam_width: int, trie: SidTrie | None = None
) -> Generated:
    """The ``beam_width`` most probable items found by beam search, best first.

    ``history`` (N, W) left-padded codes. Returns K = min(beam_width, number of sequences) items per
    history. Under a trie with fewer than ``beam_width`` items the extra beams have log-prob -inf.
    """
    n, length = history.shape[0], model.config.tokens_per_item
    logits, cache = model.prefill(history)
    scores = history.new_zeros((n, 1), dtype=torch.float32)  # (N, beams): one empty beam
    items = history.new_zeros((n, 1, 0))
    token_logprobs = scores.new_zeros((n, 1, 0))
    for step in range(length):
        beams = scores.shape[1]
        logp = _step_logprobs(logits, items.reshape(n * beams, step), trie).view(n, beams, -1)
        candidates = (scores[:, :, None] + logp).view(n, -1)  # (N, beams * V_max)
        scores, flat = candidates.topk(min(beam_width, candidates.shape[1]), dim=1)
        parent, token = flat // logp.shape[2], flat % logp.shape[2]
        lineage = parent[:, :, None].expand(-1, -1, step)
        items = torch.cat([items.gather(1, lineage), token[..., None]], 2)
        chosen = logp.gather(1, parent[:, :, None].expand(-1, -1, logp.shape[2]))
        token_logprobs = torch.cat(
            [token_logprobs.gather(1, lineage), chosen.gather(2, token[..., None])], 2
        )
        if step + 1 < length:
            rows = (torch.arange(n, device=history.device)[:, None] * beams + parent).view(-1)
            cache = cache.select(rows, group=token.shape[1])
            logits, cache = model.extend(token.view(-1, 1), cache)
            logits = logits[:, 0]
    return Generated(items, token_logprobs)


@torch.no_grad()
def sample(
    model: Policy,
    history: Tensor,
    num_samples: int,
    temperature: float = 1.0,
    trie: SidTrie | None = None,
    noise: Tensor | None = None,
) -> Generated:
    """``num_samples`` items per history drawn token by token at ``temperature`` (rollouts).

    ``logprobs`` are under the distribution sampled from (tempered, trie-restricted when given).
    ``noise`` (N, num_samples, L): one uniform in [0, 1) per token drawn, turned into the token
    by the inverse of the distribution's CDF. A history's items are a function of its own noise
    only, so they do not depend on how histories are batched or split across workers (default:
    uniforms from torch's global generator).
    """
    n, length = history.shape[0], model.config.tokens_per_item
    if noise is None:
        noise = torch.rand((n, num_samples, length), device=history.device)
    uniforms = noise.to(history.device).reshape(n * num_samples, length)
    logits, cache = model.prefill(history)
    cache = cache.expand(num_samples)
    logits = logits.repeat_interleave(num_samples, dim=0)
    items = history.new_zeros((n * num_samples, 0))
    steps = []
    for step in range(length):
        logp = _step_logprobs(logits, items, trie, temperature)
        token = _inverse_cdf(logp.exp(), uniforms[:, step])  # (rows, 1)
        steps.append(logp.gather(1, token)[:, 0])
        items = torch.cat([items, token], 1)
        if step + 1 < length:
            logits, cache = model.extend(token, cache)
            logits = logits[:, 0]
    token_logprobs = torch.stack(steps, 1).view(n, num_samples, length)
    return Generated(items.view(n, num_samples, length), token_logprobs)


def _inverse_cdf(probabilities: Tensor, uniforms: Tensor) -> Tensor:
    """The token (rows, 1) whose CDF interval holds each row's uniform; a token of probability
    0 has an empty interval and is never drawn."""
    cdf = probabilities.cumsum(-1)
    total = cdf[:, -1:]  # 1 up to rounding: scale the uniforms to it
    below_total = torch.nextafter(total, torch.zeros_like(total))
    point = torch.minimum(uniforms[:, None] * total, below_total)
    return torch.searchsorted(cdf, point, right=True)


def sequence_logprob(
    model: Policy,
    history: Tensor,
    items: Tensor,
    temperature: float = 1.0,
    trie: SidTrie | None = None,
) -> Tensor:
    """Teacher-forced per-token log-probs of given items, with gradient (GRPO, NLL).

    ``items`` (N, L) or (N, K, L): one or K items per history; the history is encoded once and
    shared through the cache. Returns the shape of ``items``; sum the last axis for an item's
    log-probability. With ``temperature`` and ``trie``, under the distribution ``sample`` draws
    from, so that a ratio against the sampler's log-probs is exact.
    """
    single = items.ndim == 2
    grouped = items[:, None] if single else items
    n, k, length = grouped.shape
    flat = grouped.reshape(n * k, length).long()
    first, cache = model.prefill(history)
    rest, _ = model.extend(flat[:, :-1], cache.expand(k))
    logits = torch.cat([first.repeat_interleave(k, dim=0)[:, None], rest], 1)  # (N*K, L, V_max)
    logp = torch.stack(
        [_step_logprobs(logits[:, p], flat[:, :p], trie, temperature) for p in range(length)], 1
    ).gather(2, flat[..., None])
    out = logp.view(n, k, length)
    return out[:, 0] if single else out
