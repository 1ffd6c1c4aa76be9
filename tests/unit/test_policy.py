"""The policy on a tiny random model whose items can all be enumerated (4 codes x 3 tokens = 64)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
import torch
import torch.nn.functional as F

from components.policy.generation import beam_search, sample, sequence_logprob
from components.policy.model import PAD, Policy, PolicyConfig, pad_histories, prefix_keys
from components.policy.trie import SidTrie

VOCAB = (4, 4, 4)
ALL_ITEMS = torch.tensor(list(itertools.product(range(4), repeat=3)))  # (64, 3)
CATALOG = torch.tensor([[0, 1, 2], [0, 1, 3], [0, 3, 0], [2, 2, 2], [3, 0, 1], [3, 0, 0]])


def tiny_policy(vocab: tuple[int, ...] = VOCAB, seed: int = 0) -> Policy:
    torch.manual_seed(seed)
    config = PolicyConfig(vocab, 3, n_layer=2, n_head=2, d_model=16, prefix_buckets=64)
    model = Policy(config)
    with torch.no_grad():  # larger weights than GPT init, so that item probabilities differ clearly
        for p in model.parameters():
            p.normal_(std=0.5)
    return model.eval()


def histories() -> torch.Tensor:
    """Three users with 3, 2 and 1 items of history, left-padded."""
    return torch.tensor(
        [[1, 2, 3, 0, 0, 1, 3, 3, 2], [PAD, PAD, PAD, 2, 1, 0, 1, 1, 1], [PAD] * 6 + [3, 0, 2]]
    )


def full_logprobs(model: Policy, history: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Per-token log-probs (N, K, L) of items (N, K, L) from full forward passes, no cache."""
    n, k, length = items.shape
    logits = model(history.repeat_interleave(k, 0), items.reshape(n * k, length)[:, :-1])
    logp = F.log_softmax(logits, -1).gather(2, items.reshape(n * k, length, 1))
    return logp.view(n, k, length)


def enumerate_items(model: Policy, history: torch.Tensor) -> torch.Tensor:
    """Log-prob of every one of the 64 items for each history: (N, 64)."""
    with torch.no_grad():
        items = ALL_ITEMS.expand(len(history), -1, -1)
        return full_logprobs(model, history, items).sum(-1)


def constrained_logprobs(model: Policy, history: torch.Tensor) -> torch.Tensor:
    """Log-prob of each CATALOG item when every step is renormalized over valid continuations."""
    out = torch.zeros(len(history), len(CATALOG))
    with torch.no_grad():
        for j, item in enumerate(CATALOG):
            logits = model(history, item[None, :-1].expand(len(history), -1))
            for p in range(len(item)):
                valid = {int(c[p]) for c in CATALOG if torch.equal(c[:p], item[:p])}
                mask = torch.tensor([c in valid for c in range(4)])
                logp = F.log_softmax(logits[:, p].masked_fill(~mask, float("-inf")), -1)
                out[:, j] += logp[:, item[p]]
    return out


def test_kv_cache_decoding_matches_full_forward() -> None:
    model = tiny_policy(vocab=(4, 3, 5))
    history = histories().clamp(max=2).masked_fill(histories() == PAD, PAD)
    items = torch.tensor([[1, 2, 4], [3, 0, 0], [0, 1, 2]])
    full = model(history, items[:, :-1])
    logits, cache = model.prefill(history)
    cached = [logits]
    for p in range(2):
        logits, cache = model.extend(items[:, p : p + 1], cache)
        cached.append(logits[:, 0])
    stepwise = torch.stack(cached, 1)
    assert torch.equal(torch.isinf(full), torch.isinf(stepwise))
    assert torch.isinf(full[:, 1, 3:]).all() and not torch.isinf(full[:, 1, :3]).any()
    finite = ~torch.isinf(full)
    torch.testing.assert_close(stepwise[finite], full[finite], atol=1e-5, rtol=0)


def test_history_padding_changes_nothing() -> None:
    """Dropping padding columns must not move the history: positions are aligned on BOS."""
    model, history = tiny_policy(), histories()[2:]
    items = torch.tensor([[1, 2]])
    full = model(history, items)
    for width in (3, 6):
        torch.testing.assert_close(model(history[:, -width:], items), full, atol=1e-5, rtol=0)


def test_beam_search_is_exact_when_the_beam_holds_every_prefix() -> None:
    """Width 16 = 4 x 4 keeps every 2-token prefix, so the top 16 of all 64 items must come out."""
    model, history = tiny_policy(), histories()
    found = beam_search(model, history, beam_width=16)
    truth = enumerate_items(model, history)
    top = truth.topk(16, dim=1)
    assert found.items.shape == (3, 16, 3)
    torch.testing.assert_close(found.logprobs, top.values, atol=1e-5, rtol=0)
    assert torch.equal(found.items, ALL_ITEMS[top.indices])


def test_beam_search_width_5_matches_an_enumerated_beam() -> None:
    """Beam search is not exhaustive: width 5 keeps the 5 best prefixes at every depth. Checked
    against that rule applied to enumerated prefix log-probs, and against the true top 5."""
    model, history = tiny_policy(), histories()
    found = beam_search(model, history, beam_width=5)
    with torch.no_grad():
        per_token = full_logprobs(model, history, ALL_ITEMS.expand(3, -1, -1))
    prefix_scores = per_token.cumsum(-1)  # (N, 64, L): score of each item's depth-d prefix
    for i in range(len(history)):
        kept: set[tuple[int, ...]] = {()}
        for depth in range(1, 4):
            scores = {
                tuple(ALL_ITEMS[j, :depth].tolist()): float(prefix_scores[i, j, depth - 1])
                for j in range(64)
                if tuple(ALL_ITEMS[j, : depth - 1].tolist()) in kept
            }
            kept = set(sorted(scores, key=scores.__getitem__, reverse=True)[:5])
        ranked = sorted(kept, key=scores.__getitem__, reverse=True)
        assert [tuple(item) for item in found.items[i].tolist()] == ranked
        expected = torch.tensor([scores[item] for item in ranked])
        torch.testing.assert_close(found.logprobs[i], expected, atol=1e-5, rtol=0)
    truth = enumerate_items(model, history)
    assert (found.logprobs[:, 0] <= truth.max(1).values + 1e-5).all()
    assert (found.logprobs[:, 1:] <= found.logprobs[:, :-1]).all()


def test_constrained_beam_search_returns_only_catalog_items_renormalized() -> None:
    model, history, trie = tiny_policy(), histories(), SidTrie(CATALOG, torch.arange(6), VOCAB)
    found = beam_search(model, history, beam_width=8, trie=trie)
    valid = found.logprobs[:, :6]
    assert torch.isinf(found.logprobs[:, 6:]).all(), "only 6 items exist"
    assert trie.contains(found.items[:, :6]).all()
    torch.testing.assert_close(valid.exp().sum(1), torch.ones(3), atol=1e-5, rtol=0)
    expected = constrained_logprobs(model, history)
    index = trie.lookup(found.items[:, :6])  # item ids are CATALOG rows here
    torch.testing.assert_close(valid, expected.gather(1, index), atol=1e-5, rtol=0)


def test_unconstrained_beam_search_can_leave_the_catalog() -> None:
    model, history, trie = tiny_policy(), histories(), SidTrie(CATALOG, torch.arange(6), VOCAB)
    found = beam_search(model, history, beam_width=10)
    assert not trie.contains(found.items).all()


def test_constrained_sampling_never_leaves_the_catalog() -> None:
    model, history, trie = tiny_policy(), histories(), SidTrie(CATALOG, torch.arange(6), VOCAB)
    noise = torch.rand((3, 2000, 3), generator=torch.Generator().manual_seed(0))
    drawn = sample(model, history, num_samples=2000, trie=trie, noise=noise)
    assert drawn.items.shape == (3, 2000, 3)
    index = trie.lookup(drawn.items)
    assert (index >= 0).all()
    expected = constrained_logprobs(model, history)
    torch.testing.assert_close(drawn.logprobs, expected.gather(1, index), atol=1e-5, rtol=0)
    frequency = F.one_hot(index, 6).float().mean(1)
    torch.testing.assert_close(frequency, expected.exp(), atol=0.05, rtol=0)


def test_sampling_logprobs_are_the_policy_logprobs() -> None:
    model, history = tiny_policy(), histories()
    drawn = sample(model, history, num_samples=64)
    truth = enumerate_items(model, history)
    index = (drawn.items * torch.tensor([16, 4, 1])).sum(-1)  # row of ALL_ITEMS
    torch.testing.assert_close(drawn.logprobs, truth.gather(1, index), atol=1e-5, rtol=0)


def test_sampling_at_low_temperature_is_greedy() -> None:
    model, history = tiny_policy(), histories()
    cold = sample(model, history, num_samples=4, temperature=1e-4)
    greedy = beam_search(model, history, beam_width=1)
    assert torch.equal(cold.items, greedy.items.expand(-1, 4, -1))


def test_a_history_s_samples_are_a_function_of_its_own_noise() -> None:
    model, history = tiny_policy(), histories()
    noise = [torch.rand((3, 8, 3), generator=torch.Generator().manual_seed(s)) for s in (7, 8)]
    together = sample(model, history, 8, noise=noise[0]).items
    assert torch.equal(sample(model, history, 8, noise=noise[0].clone()).items, together)
    assert not torch.equal(sample(model, history, 8, noise=noise[1]).items, together)
    # Split into batches of one history and two (as two workers would be): the same items.
    alone = sample(model, history[:1], 8, noise=noise[0][:1]).items
    rest = sample(model, history[1:], 8, noise=noise[0][1:]).items
    assert torch.equal(torch.cat([alone, rest]), together)


def test_a_token_of_probability_zero_is_never_drawn_even_at_the_ends_of_the_noise() -> None:
    model, history, trie = tiny_policy(), histories(), SidTrie(CATALOG, torch.arange(6), VOCAB)
    ends = torch.tensor([0.0, 1 - 2**-24, 0.5, 1e-9]).repeat(3, 1)[..., None].expand(3, 4, 3)
    drawn = sample(model, history, 4, trie=trie, noise=ends.contiguous())
    assert trie.contains(drawn.items).all()
    assert drawn.logprobs.isfinite().all()


def test_sequence_logprob_matches_full_forward_and_has_gradient() -> None:
    model, history = tiny_policy(), histories()
    items = ALL_ITEMS[torch.tensor([[5, 17], [40, 63], [0, 22]])]  # (3, 2, 3)
    logp = sequence_logprob(model, history, items)
    assert logp.shape == (3, 2, 3)
    torch.testing.assert_close(logp, full_logprobs(model, history, items), atol=1e-5, rtol=0)
    single = sequence_logprob(model, history, items[:, 0])
    torch.testing.assert_close(single, logp[:, 0], atol=1e-5, rtol=0)
    logp.sum().backward()
    assert model.tok_emb.weight.grad is not None


def test_trie_lookup_and_allowed_tokens() -> None:
    trie = SidTrie(CATALOG, torch.arange(100, 106), VOCAB)
    assert trie.lookup(torch.tensor([[3, 0, 0], [1, 1, 1]])).tolist() == [105, -1]
    allowed = trie.allowed(torch.tensor([[0], [1], [3]]))
    assert allowed.tolist() == [[False, True, False, True], [False] * 4, [True] + [False] * 3]
    assert trie.allowed(torch.zeros(1, 0, dtype=torch.long)).tolist() == [[True, False, True, True]]


def test_trie_from_catalog_keeps_listed_items_only() -> None:
    catalog = pa.table(
        {
            "item_id": pa.array([10, 11, 12], pa.int64()),
            "sid": pa.array([[0, 1, 2], [3, 3, 3], [1, 0, 0]], pa.list_(pa.int32())),
            "listed": [True, False, True],
        }
    )
    trie = SidTrie.from_catalog(catalog, VOCAB)
    assert trie.lookup(torch.tensor([[0, 1, 2], [3, 3, 3], [1, 0, 0]])).tolist() == [10, -1, 12]


@pytest.mark.parametrize("max_items", [2, 3])
def test_pad_histories_keeps_the_last_items_left_padded(max_items: int) -> None:
    config = PolicyConfig(VOCAB, max_history_items=max_items)
    values = np.arange(1, 13)  # users of 3, 1 and 0 items
    padded = pad_histories(values, [0, 9, 12, 12], config)
    width = 3 * min(3, max_items)
    assert padded.shape == (3, width)
    assert padded[0].tolist() == list(range(10 - width, 10))
    assert padded[1].tolist() == [PAD] * (width - 3) + [10, 11, 12]
    assert padded[2].tolist() == [PAD] * width


def test_sequence_forward_scores_each_item_as_after_its_history() -> None:
    """One pass over a right-padded sequence gives, for item i, the logits that the model gives
    the item after the i-item history: what whole-sequence training relies on."""
    model = tiny_policy()
    sequences = torch.tensor([ALL_ITEMS[[3, 9, 27, 44]].flatten().tolist(),
                              ALL_ITEMS[[50, 1]].flatten().tolist() + [PAD] * 6])  # fmt: skip
    logits = model.forward_sequences(sequences)
    assert logits.shape == (2, 12, 4)
    for row, items in ((0, 4), (1, 2)):
        for i in range(items):
            history = sequences[row : row + 1, : 3 * i]
            target = sequences[row : row + 1, 3 * i : 3 * i + 3]
            expected = model(history, target[:, :-1])
            torch.testing.assert_close(
                logits[row : row + 1, 3 * i : 3 * i + 3], expected, atol=1e-5, rtol=0
            )


def test_prefix_keys_name_each_prefix_of_an_item_whatever_the_item() -> None:
    items = torch.tensor([[0, 1, 2], [0, 1, 3], [1, 1, 2], [PAD, PAD, PAD]])
    keys = prefix_keys(items)
    assert keys[0, :2].tolist() == keys[1, :2].tolist()  # shared prefix (0,) and (0, 1)
    assert keys[0, 2] != keys[1, 2]  # (0, 1, 2) against (0, 1, 3)
    assert len({keys[0, 1].item(), keys[2, 1].item()}) == 2  # (0, 1) against (1, 1)
    assert len(set(keys[:3].flatten().tolist())) == 7 and (keys[:3] > 0).all()
    assert keys[3].tolist() == [0, 0, 0]  # padding has no prefix
    # Fed token by token (decoding), the keys carry over: the same as all at once.
    first = prefix_keys(items[:3, :1])
    assert torch.equal(prefix_keys(items[:3, 1:], carry=first[:, -1]), keys[:3, 1:])


def test_the_prefix_table_adds_to_the_token_embeddings_and_nothing_else() -> None:
    """With its table zeroed, a model with prefix embeddings is the model without them; with the
    table, items that reuse the same codes in other combinations read differently."""
    model = tiny_policy()
    plain = Policy(replace(model.config, prefix_buckets=0)).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if "prefix" not in k})
    history = torch.tensor([[0, 1, 2, 1, 0, 3], [0, 0, 3, 1, 1, 2]])  # same codes, recombined
    with torch.no_grad():
        with_table = model.prefill(history)[0]
        assert model.prefix_emb is not None
        model.prefix_emb.weight.zero_()
        torch.testing.assert_close(model.prefill(history)[0], plain.prefill(history)[0])
    assert not torch.allclose(with_table, plain.prefill(history)[0])


def test_prefix_dropout_drops_whole_embeddings_in_training_only() -> None:
    model = tiny_policy()
    dropped = Policy(replace(model.config, prefix_dropout=0.5))
    dropped.load_state_dict(model.state_dict())
    history = histories()
    with torch.no_grad():
        dropped.eval()  # evaluation: every token keeps its prefix embedding
        torch.testing.assert_close(dropped.prefill(history)[0], model.prefill(history)[0])
        dropped.train()
        torch.manual_seed(0)
        first = dropped.prefill(history)[0]
        torch.manual_seed(0)
        assert torch.equal(dropped.prefill(history)[0], first)  # the seed decides which
        assert not torch.allclose(first, model.prefill(history)[0])
