"""Evaluation metrics against hand-computed values, and ranking by beam search on a tiny random
policy: constrained lists hold only catalog items, and batching or user order change nothing."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from components.evaluate.decode import EvalSplit, eval_split, rank_items
from components.evaluate.metrics import NO_ITEM, hallucination_rate, hit_rank, ranking_metrics
from components.policy.model import PAD
from components.policy.trie import SidTrie
from tests.unit.test_policy import ALL_ITEMS as ALL_SIDS
from tests.unit.test_policy import CATALOG, VOCAB, tiny_policy

# -- metrics on hand-made lists -----------------------------------------------------------------


def beam(target: int, rank: int | None, length: int = 11) -> list[int]:
    """A list of ``length`` items holding ``target`` at 1-based ``rank`` (nowhere when None);
    the other entries are other items, with a hallucinated SID (NO_ITEM) in second place."""
    items = [1000 + i for i in range(length)]
    items[1] = NO_ITEM
    if rank is not None:
        items[rank - 1] = target
    return items


# One user per case; lists of 11 so that rank 11 is just outside the top 10.
RANKS = [1, 3, 6, None, 2, 11]  # 6 = just outside top 5, 2 = just outside top 1
TARGETS = np.array([10, 20, 30, 40, 50, 60])
RANKED = np.array([beam(t, r) for t, r in zip(TARGETS, RANKS, strict=True)])


def test_hit_rank_is_one_based_and_zero_when_missing() -> None:
    assert hit_rank(RANKED, TARGETS).tolist() == [1, 3, 6, 0, 2, 11]


def test_hr_and_ndcg_match_hand_computed_values() -> None:
    metrics = ranking_metrics(RANKED, TARGETS, (1, 5, 10))

    assert set(metrics) == {"hr@1", "hr@5", "hr@10", "ndcg@1", "ndcg@5", "ndcg@10"}
    # Ranks 1, 3, 6, -, 2, 11 over 6 users.
    assert metrics["hr@1"] == pytest.approx(0.16666666666666666)  # rank 1 only: 1/6
    assert metrics["hr@5"] == pytest.approx(0.5)  # ranks 1, 3, 2: 3/6
    assert metrics["hr@10"] == pytest.approx(0.6666666666666666)  # ranks 1, 3, 6, 2: 4/6
    assert metrics["ndcg@1"] == pytest.approx(0.16666666666666666)  # 1/log2(2) = 1, / 6
    # rank 1 -> 1/log2(2) = 1; rank 3 -> 1/log2(4) = 0.5; rank 2 -> 1/log2(3) = 0.63093;
    # (1 + 0.5 + 0.6309297535714575) / 6 = 0.35515
    assert metrics["ndcg@5"] == pytest.approx(0.3551549589285763)
    # ... + rank 6 -> 1/log2(7) = 0.3562071871080222: 2.4871369406794797 / 6 = 0.41452
    assert metrics["ndcg@10"] == pytest.approx(0.41452282344658004)


def test_a_single_user_at_rank_one_and_just_outside() -> None:
    at_one = ranking_metrics(np.array([beam(7, 1)]), np.array([7]), (1, 5, 10))
    assert all(value == 1.0 for value in at_one.values()), at_one
    outside = ranking_metrics(np.array([beam(7, 11)]), np.array([7]), (1, 5, 10))
    assert all(value == 0.0 for value in outside.values()), outside
    missing = ranking_metrics(np.array([beam(7, None)]), np.array([7]), (1, 5, 10))
    assert all(value == 0.0 for value in missing.values()), missing


def test_k_beyond_the_lists_and_no_users_are_errors() -> None:
    with pytest.raises(ValueError, match="lists of 5 items cannot give metrics at k=10"):
        ranking_metrics(RANKED[:, :5], TARGETS, (1, 5, 10))
    assert ranking_metrics(RANKED[:, :5], TARGETS, (1, 5))["hr@5"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no users"):
        ranking_metrics(RANKED[:0], TARGETS[:0], (1,))


def test_hallucination_rate_counts_only_generated_beams() -> None:
    ranked = np.array([[5, NO_ITEM, 7, NO_ITEM], [NO_ITEM, 3, NO_ITEM, NO_ITEM]])
    generated = np.array([[True, True, True, False], [True, True, False, False]])
    # Generated: 3 + 2 = 5 beams, of which (0, 1) and (1, 0) match no item: 2/5. The NO_ITEM
    # entries at (0, 3), (1, 2), (1, 3) are beams a constraint could not fill (-inf): excluded.
    assert hallucination_rate(ranked, generated) == pytest.approx(0.4)
    assert hallucination_rate(ranked, np.ones_like(generated)) == pytest.approx(5 / 8)
    assert hallucination_rate(ranked, np.zeros_like(generated)) == 0.0
    assert hallucination_rate(np.array([[5, 3]]), np.array([[True, True]])) == 0.0


# -- ranking by beam search ---------------------------------------------------------------------


def item_ids(sids: torch.Tensor) -> torch.Tensor:
    """An item id for each SID (..., 3): 1000 plus the SID read as a base-4 number."""
    return 1000 + 16 * sids[..., 0] + 4 * sids[..., 1] + sids[..., 2]


UNLISTED = torch.tensor([[1, 1, 1], [2, 0, 3]])  # items with a SID that may not be recommended
KNOWN = torch.cat([CATALOG, UNLISTED])
LISTED = SidTrie(CATALOG, item_ids(CATALOG), VOCAB)
ALL_ITEMS = SidTrie(KNOWN, item_ids(KNOWN), VOCAB)
# Every SID an item: -inf beams then spell items too, and must still come out as NO_ITEM.
EVERY_SID = SidTrie(ALL_SIDS, item_ids(ALL_SIDS), VOCAB)
BEAM_WIDTH = 8  # more than the 6 listed items: constrained search leaves 2 beams at -inf


def random_split(users: int = 9, seed: int = 0) -> EvalSplit:
    """Users with 1 to 3 items of history (3 tokens each), left-padded to 9 tokens."""
    rng = np.random.default_rng(seed)
    histories = torch.full((users, 9), PAD)
    for user in range(users):
        tokens = 3 * int(rng.integers(1, 4))
        histories[user, 9 - tokens :] = torch.from_numpy(rng.integers(0, 4, tokens))
    targets = rng.integers(1000, 1064, users)  # unused, as are the users and target codes
    return EvalSplit("valid", histories, targets, np.arange(users), torch.zeros(users, 3))


@pytest.mark.parametrize("items", [ALL_ITEMS, EVERY_SID], ids=["catalog", "every-sid"])
def test_constrained_ranking_holds_only_listed_items(items: SidTrie) -> None:
    split = random_split()
    ranked, generated = rank_items(tiny_policy(), split, items, LISTED, BEAM_WIDTH, 4)

    assert ranked.shape == generated.shape == (len(split), BEAM_WIDTH)
    assert generated.sum(1).tolist() == [len(CATALOG)] * len(split)
    assert generated[:, : len(CATALOG)].all()  # the -inf beams sort last
    for row, real in zip(ranked, generated, strict=True):
        assert sorted(row[real]) == sorted(item_ids(CATALOG).tolist())  # all 6, each once
        assert (row[~real] == NO_ITEM).all()
    assert hallucination_rate(ranked, generated) == 0.0


def test_unconstrained_ranking_marks_unknown_sids() -> None:
    split = random_split()
    every_sid = len(ALL_SIDS)  # a beam as wide as the SID space holds every SID once
    ranked, generated = rank_items(tiny_policy(), split, ALL_ITEMS, None, every_sid, 4)

    assert generated.all()
    for user in ranked:
        assert sorted(user[user != NO_ITEM].tolist()) == sorted(item_ids(KNOWN).tolist())
    assert hallucination_rate(ranked, generated) == (every_sid - len(KNOWN)) / every_sid


@pytest.mark.parametrize("constraint", [None, LISTED], ids=["unconstrained", "constrained"])
def test_ranking_depends_neither_on_batch_size_nor_on_user_order(
    constraint: SidTrie | None,
) -> None:
    policy, split = tiny_policy(), random_split()
    one = rank_items(policy, split, ALL_ITEMS, constraint, BEAM_WIDTH, batch_size=1)
    all_at_once = rank_items(policy, split, ALL_ITEMS, constraint, BEAM_WIDTH, batch_size=64)
    np.testing.assert_array_equal(one[0], all_at_once[0])
    np.testing.assert_array_equal(one[1], all_at_once[1])

    order = np.random.default_rng(1).permutation(len(split))
    rows = torch.from_numpy(order)
    shuffled = EvalSplit(
        "valid", split.histories[rows], split.targets[order], order, split.target_codes[rows]
    )
    ranked, generated = rank_items(policy, shuffled, ALL_ITEMS, constraint, BEAM_WIDTH, 2)
    np.testing.assert_array_equal(ranked, one[0][order])
    np.testing.assert_array_equal(generated, one[1][order])


def test_eval_split_sorts_by_user_and_samples_reproducibly() -> None:
    examples = pa.table(
        {
            "user_id": pa.array([30, 10, 20, 40], pa.int64()),
            "history_sids": pa.array(
                [[3, 3, 3], [1, 1, 1, 0, 1, 2], [2, 2, 2], [0, 0, 0]], pa.list_(pa.int64())
            ),
            "target_item_id": pa.array([103, 101, 102, 104], pa.int64()),
            "target_sid": pa.array(
                [[3, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]], pa.list_(pa.int64())
            ),
        }
    )
    config = tiny_policy().config
    split = eval_split("test", examples, config, max_users=None)
    assert split.name == "test" and len(split) == 4
    assert split.targets.tolist() == [101, 102, 103, 104]
    assert split.users.tolist() == [10, 20, 30, 40]
    assert split.target_codes.tolist() == [[1, 0, 0], [2, 0, 0], [3, 0, 0], [0, 1, 0]]
    assert split.histories.tolist() == [
        [1, 1, 1, 0, 1, 2],
        [PAD, PAD, PAD, 2, 2, 2],
        [PAD, PAD, PAD, 3, 3, 3],
        [PAD, PAD, PAD, 0, 0, 0],
    ]
    sample = eval_split("test", examples, config, max_users=2, seed=5)
    again = eval_split("test", examples.take([3, 2, 1, 0]), config, max_users=2, seed=5)
    assert len(sample) == 2 and sample.targets.tolist() == sorted(sample.targets.tolist())
    assert set(sample.targets) <= set(split.targets)
    assert again.targets.tolist() == sample.targets.tolist()
    assert torch.equal(again.histories, sample.histories)
