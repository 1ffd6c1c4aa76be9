"""The GRPO term and AdaGRPO's gate against values computed by hand on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from components.trainer import gate, grpo

T, F = True, False


def test_advantages_are_centred_over_the_groups_unbiased_std() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    valid = torch.ones(1, 4, dtype=torch.bool)
    a = 0.5 / (math.sqrt(1 / 3) + grpo.STD_EPS)  # var = 4 x 0.25 / (4 - 1)

    torch.testing.assert_close(
        grpo.advantages(rewards, valid, "group_std"), torch.tensor([[a, -a, -a, a]])
    )
    torch.testing.assert_close(
        grpo.advantages(rewards, valid, "none"), torch.tensor([[0.5, -0.5, -0.5, 0.5]])
    )


def test_rollouts_that_are_not_real_stay_out_of_the_statistics() -> None:
    rewards = torch.tensor([[1.0, 0.0, 5.0]])
    valid = torch.tensor([[T, T, F]])
    a = 0.5 / (math.sqrt(0.5) + grpo.STD_EPS)

    torch.testing.assert_close(
        grpo.advantages(rewards, valid, "group_std"), torch.tensor([[a, -a, 0.0]])
    )
    assert grpo.zero_variance(rewards, valid).tolist() == [False]
    assert grpo.zero_variance(torch.tensor([[0.3, 0.3, 9.0]]), valid).tolist() == [True]


def test_a_group_with_equal_rewards_has_no_advantage() -> None:
    rewards = torch.full((2, 4), 0.25)
    valid = torch.ones(2, 4, dtype=torch.bool)

    assert grpo.advantages(rewards, valid, "group_std").abs().sum() == 0
    assert grpo.zero_variance(rewards, valid).tolist() == [True, True]


@pytest.mark.parametrize(
    ("ratio", "advantage", "expected"),
    [
        (1.5, 1.0, -1.2),  # clipped from above: no credit past 1 + eps_high
        (1.5, -1.0, 1.5),  # a worse rollout made likelier: the full penalty
        (0.5, 1.0, -0.5),  # a better rollout made rarer: the full penalty
        (0.5, -1.0, 0.8),  # clipped from below
        (1.0, 2.0, -2.0),
    ],
)
def test_the_clipped_surrogate(ratio: float, advantage: float, expected: float) -> None:
    logp = torch.tensor([[[math.log(ratio)]]])
    loss = grpo.clipped_token_loss(
        logp, torch.zeros(1, 1, 1), torch.tensor([[advantage]]), 0.2, 0.2
    )
    assert loss.item() == pytest.approx(expected)


def test_the_k3_estimate_of_the_kl() -> None:
    kl = grpo.k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]))
    assert kl.item() == pytest.approx(0.5 + math.log(2) - 1)  # exp(d) - d - 1, d = log 0.5
    assert grpo.k3_kl(torch.tensor([-1.0]), torch.tensor([-1.0])).item() == 0.0


# Two samples, two rollouts of two tokens: sample 0's second rollout has one active token,
# sample 1's second rollout is not real (an empty beam).
TOKEN_LOSS = torch.tensor([[[1.0, 3.0], [2.0, 9.0]], [[4.0, 4.0], [7.0, 7.0]]])
ACTIVE = torch.tensor([[[T, T], [T, F]], [[T, T], [F, F]]])


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        ("sequence_mean", [(2.0 + 2.0) / 2, 4.0 / 1]),  # rollout token means, then their mean
        ("token_sum", [6.0 / 2.5, 8.0 / 2.5]),  # 5 active tokens, 2.5 a sample
        ("constant", [6.0 / 4, 8.0 / 4]),  # G x L = 4
    ],
)
def test_each_aggregation_by_hand(aggregation: grpo.Aggregation, expected: list[float]) -> None:
    torch.testing.assert_close(
        grpo.per_sample_loss(TOKEN_LOSS, ACTIVE, aggregation), torch.tensor(expected)
    )


# -- the gate ---------------------------------------------------------------------------------


def items(*codes: int) -> torch.Tensor:
    """One group of rollouts, each a 1-token SID (item id = code)."""
    return torch.tensor([[[c] for c in codes]])


def diagnose(
    rollouts: list[int], target: int, rewards: list[float], target_reward: float, **taus: float
) -> gate.Diagnostics:
    ids = torch.tensor([rollouts])
    valid = ids >= 0
    settings = {"tau_hit": 0.5, "tau_ent": 0.25, "tau_prob": 0.5, "tau_disc": 0.8, **taus}
    return gate.diagnose(
        ids == target,
        items(*rollouts),
        valid,
        torch.tensor([rewards]),
        torch.tensor([target_reward]),
        None,
        gate.Thresholds(**settings),
    )


def test_a_sample_whose_rollouts_all_hit_the_truth_is_not_difficult() -> None:
    found = diagnose([7, 7, 7, 7], target=7, rewards=[0.9] * 4, target_reward=0.9)
    assert found.hit_share.tolist() == [1.0] and found.entropy.tolist() == [0.0]
    assert found.difficult.tolist() == [False]


def test_a_sample_with_spread_rollouts_that_miss_is_difficult() -> None:
    found = diagnose([1, 2, 3, 4], target=7, rewards=[0.1] * 4, target_reward=0.9)
    assert found.hit_share.tolist() == [0.0] and found.entropy.item() == pytest.approx(1.0)
    assert found.difficult.tolist() == [True]
    # Half and half: entropy log 2 / log 4 = 0.5; one distinct item: 0.
    assert diagnose([1, 1, 2, 2], 7, [0.1] * 4, 0.9).entropy.item() == pytest.approx(0.5)
    assert diagnose([1, 1, 1, 1], 7, [0.1] * 4, 0.9).difficult.tolist() == [False]


def test_the_truth_scored_below_every_valid_negative_is_not_discriminable() -> None:
    found = diagnose([1, 2, 3, 4], target=7, rewards=[0.5, 0.6, 0.7, 0.8], target_reward=0.1)
    assert found.discriminability.tolist() == [0.0]
    assert found.discriminable.tolist() == [False]


def test_ties_count_half_and_the_truth_itself_is_no_negative() -> None:
    # Negatives 1, 2, 3: below, tied, above; rollout 7 is the truth and does not count.
    found = diagnose([1, 2, 3, 7], target=7, rewards=[0.1, 0.5, 0.9, 0.5], target_reward=0.5)
    assert found.discriminability.item() == pytest.approx((1 + 0.5 + 0) / 3)
    high = diagnose([1, 2, 3, 7], 7, [0.1, 0.2, 0.3, 0.5], 0.5)
    assert high.discriminability.tolist() == [1.0] and high.discriminable.tolist() == [True]


def test_without_a_valid_negative_a_sample_is_not_discriminable() -> None:
    only_truth = diagnose([7, 7, 7, 7], target=7, rewards=[0.9] * 4, target_reward=0.9)
    hallucinated = diagnose(
        [-1, -1, 7, 7], target=7, rewards=[0.0, 0.0, 0.9, 0.9], target_reward=0.9
    )
    for found in (only_truth, hallucinated):
        assert math.isnan(found.discriminability.item())
        assert found.discriminable.tolist() == [False]


def test_the_probability_kind_of_difficulty() -> None:
    ids = torch.tensor([[7, 7]])
    found = gate.diagnose(
        ids == 7, items(7, 7), ids >= 0, torch.ones(1, 2), torch.ones(1),
        torch.tensor([0.3]), gate.Thresholds(tau_hit=0.5, tau_ent=0.25, tau_prob=0.5, tau_disc=0.8),
    )  # fmt: skip
    assert found.difficult.tolist() == [True]  # the rollouts agree, but P(truth) is low


def test_each_method_gates_with_its_diagnostics() -> None:
    found = gate.Diagnostics(
        hit_share=torch.zeros(4),
        entropy=torch.ones(4),
        discriminability=torch.ones(4),
        difficult=torch.tensor([T, T, F, F]),
        discriminable=torch.tensor([T, F, T, F]),
    )
    assert gate.gate("adagrpo", found).tolist() == [1, 0, 0, 0]
    assert gate.gate("adagrpo-difficulty", found).tolist() == [1, 1, 0, 0]
    assert gate.gate("adagrpo-discriminability", found).tolist() == [1, 0, 1, 0]
    assert gate.gate("mix", found).tolist() == [1, 1, 1, 1]
    assert gate.gate("grpo", found).tolist() == [1, 1, 1, 1]
    assert gate.gate("nll", found).tolist() == [0, 0, 0, 0]


def batch_of_four(target_probability: torch.Tensor | None, **taus: float) -> gate.Diagnostics:
    """Four samples whose two rollouts (items 1 and 2) miss the truth (7), rewarded 0.1, 0.5,
    0.6, 0.7 against the truth's 0.4."""
    ids = torch.tensor([[1, 2]] * 4)
    rewards = torch.tensor([[0.1, 0.1], [0.5, 0.5], [0.6, 0.6], [0.7, 0.7]])
    settings = {"tau_hit": 0.5, "tau_ent": 0.25, "tau_prob": 0.05, "tau_disc": 0.8, **taus}
    return gate.diagnose(
        ids == 7, ids[..., None], ids >= 0, rewards, torch.full((4,), 0.4),
        target_probability, gate.Thresholds(**settings),
    )  # fmt: skip


def test_a_quantile_threshold_calls_that_share_of_the_batch_difficult() -> None:
    probability = torch.tensor([0.9, 0.1, 0.6, 0.4])
    # Fixed at 0.05, nothing is difficult; at the median (0.5), the least confident half is.
    assert batch_of_four(probability).difficult.tolist() == [F, F, F, F]
    halved = batch_of_four(probability, tau_prob_quantile=0.5)
    assert halved.difficult.tolist() == [F, T, F, T]
    quarter = batch_of_four(probability, tau_prob_quantile=0.25)  # 0.1 + 0.75 x 0.3 = 0.325
    assert quarter.difficult.tolist() == [F, T, F, F]


def test_a_quantile_threshold_of_discriminability() -> None:
    # Discriminability 1, 0, 0, 0 (the truth's 0.4 beats both rollouts of the first only).
    found = batch_of_four(None, tau_disc=0.0)
    assert found.discriminability.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert found.discriminable.tolist() == [T, T, T, T]
    strict = batch_of_four(None, tau_disc=0.0, tau_disc_quantile=1.0)
    assert strict.discriminable.tolist() == [T, F, F, F]


def test_with_a_biting_difficulty_threshold_the_ablations_differ_from_mix() -> None:
    found = batch_of_four(torch.tensor([0.9, 0.1, 0.6, 0.4]), tau_prob_quantile=0.5, tau_disc=0.5)
    assert gate.gate("mix", found).tolist() == [1, 1, 1, 1]
    assert gate.gate("adagrpo-difficulty", found).tolist() == [0, 1, 0, 1]
    assert gate.gate("adagrpo-discriminability", found).tolist() == [1, 0, 0, 0]
    assert gate.gate("adagrpo", found).tolist() == [0, 0, 0, 0]
