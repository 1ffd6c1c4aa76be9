"""Every reward kind against values computed by hand on one or two small groups, and the judge
that the discriminability diagnostic reads."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from components.trainer.rewards import (
    NO_ITEM,
    GroupReward,
    HitReward,
    Reward,
    Rollout,
    SumReward,
    group_mid_ranks,
    hit_rank_rewards,
)

T, F = True, False
SCORES = {1: 0.2, 2: 0.9, 3: 0.5, 4: 0.5, 7: 0.7}


class TableScore:
    """A ranker that scores item i as SCORES[i], whoever the user."""

    def __call__(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.array([SCORES[int(item)] for item in items])


def rollout(items: list[list[int]], targets: list[int], logprobs: list[list[float]]) -> Rollout:
    ids = torch.tensor(items)
    return Rollout(
        users=torch.arange(len(items)),
        targets=torch.tensor(targets),
        items=ids,
        members=torch.ones_like(ids, dtype=torch.bool),
        logprobs=torch.tensor(logprobs),
    )


def rewarded(reward: GroupReward, found: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    scored = reward(found)
    return scored.rewards, scored.target_reward


FOUR = rollout([[1, 2, 3, 7]], [7], [[-1.0, -2.0, -3.0, -4.0]])


def test_the_ranker_scores_each_rollout_and_the_truth() -> None:
    rewards, truth = rewarded(GroupReward(TableScore(), "ranker"), FOUR)
    torch.testing.assert_close(rewards, torch.tensor([[0.2, 0.9, 0.5, 0.7]]))
    torch.testing.assert_close(truth, torch.tensor([0.7]))


def test_a_hallucinated_rollout_earns_r_invalid_unscored() -> None:
    found = rollout([[1, NO_ITEM, 3]], [7], [[-1.0, -2.0, -3.0]])
    rewards, _ = rewarded(GroupReward(TableScore(), "ranker", r_invalid=-1.0), found)
    torch.testing.assert_close(rewards, torch.tensor([[0.2, -1.0, 0.5]]))


def test_hit_rank_rewards_the_truth_and_penalises_the_others_by_their_rank() -> None:
    # Ranks by log-prob: item 2 is first (0), the truth 7 second (1), then 3 (2) and 1 (3).
    found = rollout([[1, 2, 3, 7]], [7], [[-4.0, -1.0, -3.0, -2.0]])
    rewards, truth = rewarded(GroupReward(HitReward(), "hit-rank"), found)

    discounts = {0: 1.0, 2: 1 / math.log2(4), 3: 1 / math.log2(5)}  # 1 / log2(rank + 2)
    total = sum(discounts.values())
    expected = [[-discounts[3] / total, -discounts[0] / total, -discounts[2] / total, 1.0]]
    torch.testing.assert_close(rewards, torch.tensor(expected))
    assert rewards[0, :3].sum().item() == pytest.approx(-1.0)
    torch.testing.assert_close(truth, torch.tensor([1.0]))


def test_hit_rank_gives_a_group_without_the_truth_nothing() -> None:
    found = rollout([[1, 2, 3]], [7], [[-1.0, -2.0, -3.0]])
    rewards, _ = rewarded(GroupReward(HitReward(), "hit-rank"), found)
    assert rewards.tolist() == [[0.0, 0.0, 0.0]]


def test_hit_rank_counts_ranks_over_the_group_and_skips_dropped_rollouts() -> None:
    is_target = torch.tensor([[F, T, F, F]])
    scored = torch.tensor([[T, T, F, T]])  # the third was dropped (a hallucinated beam)
    rewards = hit_rank_rewards(is_target, scored, torch.tensor([[-1.0, -2.0, -0.5, -3.0]]))
    # Scored ranks: 0 (item at -1), the truth 1, 2 (at -3); the dropped one earns nothing.
    first, third = 1.0, 1 / math.log2(4)
    expected = [[-first / (first + third), 1.0, 0.0, -third / (first + third)]]
    torch.testing.assert_close(rewards, torch.tensor(expected))


def test_ranker_rank_turns_scores_into_mid_ranks_with_the_truth_among_them() -> None:
    # Scores 0.2, 0.9, 0.5, 0.5 and the truth 0.7: ranks 0, 4, 1.5, 1.5 and 3, over 4 rollouts.
    found = rollout([[1, 2, 3, 4]], [7], [[-1.0, -2.0, -3.0, -4.0]])
    rewards, truth = rewarded(GroupReward(TableScore(), "ranker-rank"), found)
    torch.testing.assert_close(rewards, torch.tensor([[0.0, 1.0, 0.375, 0.375]]))
    torch.testing.assert_close(truth, torch.tensor([0.75]))


def test_ranker_rank_does_not_care_about_the_scale() -> None:
    scored = torch.ones(1, 3, dtype=torch.bool)
    raw = torch.tensor([[0.1, 0.3, 0.2]]), torch.tensor([0.25])
    scaled = torch.tensor([[10.0, 30.0, 20.0]]), torch.tensor([25.0])
    for left, right in zip(
        group_mid_ranks(*raw, scored), group_mid_ranks(*scaled, scored), strict=True
    ):
        torch.testing.assert_close(left, right)


def test_ranker_plus_hit_adds_one_for_the_truth() -> None:
    found = rollout([[1, 7]], [7], [[-1.0, -2.0]])
    reward = GroupReward(SumReward(TableScore(), HitReward()), "ranker+hit")
    rewards, truth = rewarded(reward, found)
    torch.testing.assert_close(rewards, torch.tensor([[0.2, 1.7]]))
    torch.testing.assert_close(truth, torch.tensor([1.7]))


@pytest.mark.parametrize("kind", ["hit", "hit-rank", "ranker+hit", "ranker-rank"])
def test_the_ranker_judges_discriminability_whatever_the_reward(kind: str) -> None:
    # The ranker scores the truth (7) 0.7: below item 2 (0.9), above items 1 and 3. A rule
    # reward or a hit bonus would put it above every rollout by construction.
    scores: dict[str, Reward] = {
        "hit": HitReward(),
        "hit-rank": HitReward(),
        "ranker+hit": SumReward(TableScore(), HitReward()),
        "ranker-rank": TableScore(),
    }
    reward = GroupReward(scores[kind], kind, judge=TableScore())  # type: ignore[arg-type]
    scored = reward(rollout([[1, 2, 3]], [7], [[-1.0, -2.0, -3.0]]))
    torch.testing.assert_close(scored.judged, torch.tensor([[0.2, 0.9, 0.5]]))
    torch.testing.assert_close(scored.target_judged, torch.tensor([0.7]))


def test_without_a_ranker_the_reward_judges_itself() -> None:
    scored = GroupReward(HitReward(), "hit")(rollout([[1, 7]], [7], [[-1.0, -2.0]]))
    torch.testing.assert_close(scored.judged, scored.rewards)
    torch.testing.assert_close(scored.target_judged, scored.target_reward)
