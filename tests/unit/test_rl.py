"""One RL step end to end on a tiny policy over 16 two-token items: the loss of every method,
what may and may not carry gradient, what the reward may see, and an exact resume."""

from __future__ import annotations

import dataclasses
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from components.core.config import RLConfig, TrainConfig
from components.core.storage import LocalStorage
from components.policy.model import Policy
from components.policy.trie import SidTrie
from components.trainer.checkpoints import MODEL_FILE, PolicyRun
from components.trainer.distributed import Workers
from components.trainer.loop import Budget, TrainingDiverged, train_policy
from components.trainer.objective import Objective, PolicyLoss
from components.trainer.rewards import GroupReward, HitReward
from components.trainer.rl import RolloutPhase, StepBatch
from components.trainer.sequences import Sequences
from tests.unit.test_trainer import (
    CPU,
    DS,
    POLICY,
    assert_same_weights,
    patterned_sequences,
    spooled,
)

CODES = torch.tensor([[a, b] for a in range(4) for b in range(4)])
ALL_ITEMS = SidTrie(CODES, 4 * CODES[:, 0] + CODES[:, 1], (4, 4))  # item id = 4a + b
SETTINGS = RLConfig(group_size=4, batch_size=8, steps=12, checkpoint_every=4, warmup_steps=2)


def sequences() -> Sequences:
    """The patterned sequences, whose last items carry their real item ids."""
    seqs = patterned_sequences()
    _, target = seqs.last_examples(np.arange(len(seqs)))
    return dataclasses.replace(seqs, last_items=4 * target[:, 0] + target[:, 1])


def train_config(**update: object) -> TrainConfig:
    defaults = {"seed": 5, "log_every": 1, "device": "cpu", "learning_rate": 1e-2}
    return TrainConfig().model_copy(update={**defaults, **update})


def phase(
    policy: Policy, method: str, settings: RLConfig = SETTINGS, **kwargs: object
) -> RolloutPhase:
    arguments: dict[str, object] = {
        "reference": None,
        "reward": GroupReward(HitReward(), "hit", settings.r_invalid),
        "catalog": ALL_ITEMS,
        "listed": ALL_ITEMS,
        "seed": 5,
        **kwargs,
    }
    return RolloutPhase(policy, settings=settings, method=method, **arguments)  # type: ignore[arg-type]


def step_batch(policy: Policy, method: str, settings: RLConfig = SETTINGS) -> StepBatch:
    objective = Objective(PolicyLoss(policy, method, settings, ALL_ITEMS), phase(policy, method))
    batch, _ = objective.batch(sequences(), np.arange(8), step=0, workers=CPU)
    return batch


def gradients(
    policy: Policy, method: str, batch: StepBatch, settings: RLConfig = SETTINGS
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    policy.zero_grad()
    torch.manual_seed(0)  # the same dropout for every method compared
    loss, _ = PolicyLoss(policy, method, settings, ALL_ITEMS)(batch)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def new_policy() -> Policy:
    torch.manual_seed(1)
    return Policy(POLICY).train()


def test_lambda_zero_gives_exactly_the_nll_update() -> None:
    policy = new_policy()
    batch = step_batch(policy, "mix")
    assert batch.rollouts is not None and batch.rollouts.advantages.abs().sum() > 0

    zero = SETTINGS.model_copy(update={"grpo_weight": 0.0})
    loss, mixed = gradients(policy, "mix", batch, zero)
    nll_loss, nll = gradients(policy, "nll", dataclasses.replace(batch, rollouts=None))

    assert torch.equal(loss, nll_loss)
    assert mixed.keys() == nll.keys()
    for name, grad in nll.items():
        assert torch.equal(mixed[name], grad), name


def test_a_gate_of_all_ones_is_exactly_mix() -> None:
    policy = new_policy()
    batch = step_batch(policy, "adagrpo")
    assert batch.rollouts is not None
    opened = dataclasses.replace(batch.rollouts, gate=torch.ones_like(batch.rollouts.gate))
    batch = dataclasses.replace(batch, rollouts=opened)

    loss, gated = gradients(policy, "adagrpo", batch)
    mix_loss, mixed = gradients(policy, "mix", batch)

    assert torch.equal(loss, mix_loss)
    for name, grad in mixed.items():
        assert torch.equal(gated[name], grad), name


def test_grpo_has_no_nll_term() -> None:
    policy = new_policy()
    batch = step_batch(policy, "grpo")
    _, alone = gradients(policy, "grpo", batch)
    _, mixed = gradients(policy, "mix", batch)
    _, nll = gradients(policy, "nll", dataclasses.replace(batch, rollouts=None))

    for name, grad in alone.items():
        torch.testing.assert_close(grad, mixed[name] - nll[name], rtol=1e-4, atol=1e-6)
    _, stats = PolicyLoss(policy, "grpo", SETTINGS, ALL_ITEMS)(batch)
    assert "loss" not in stats and "grpo_loss" in stats


def test_no_gradient_flows_through_rollouts_rewards_or_the_gate() -> None:
    policy = new_policy()
    batch = step_batch(policy, "adagrpo")
    assert batch.rollouts is not None
    for field in dataclasses.fields(batch.rollouts):
        value = getattr(batch.rollouts, field.name)
        if isinstance(value, torch.Tensor):
            assert not value.requires_grad and value.grad_fn is None, field.name
    assert policy.training  # the rollouts' eval mode was given back


def test_a_hallucinated_rollout_is_never_scored() -> None:
    listed = SidTrie(CODES[:3], torch.tensor([0, 1, 2]), (4, 4))  # 3 of the 16 SIDs are items
    seen: list[np.ndarray] = []

    def recording_reward(users: np.ndarray, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        seen.append(items.copy())
        return np.ones(len(items))

    free = SETTINGS.model_copy(update={"constrained": False, "r_invalid": -1.0})
    reward = GroupReward(recording_reward, "ranker", free.r_invalid)
    _, stats = phase(new_policy(), "mix", free, catalog=listed, listed=listed, reward=reward)(
        sequences(), np.arange(8), step=0, workers=CPU
    )

    scored = np.concatenate(seen)
    rollout_items = scored[: len(scored) - 8]  # the last 8 are the samples' ground truths
    assert set(rollout_items.tolist()) <= {0, 1, 2}
    hallucinated = stats["hallucination"][0].item()
    assert hallucinated > 0 and len(rollout_items) == 8 * 4 - hallucinated


def test_two_workers_draw_the_rollouts_one_worker_draws_for_the_whole_batch() -> None:
    # Fixed thresholds: the quantile ones pool across a real process group (test_distributed).
    fixed = SETTINGS.model_copy(update={"tau_prob_quantile": None})
    rollouts = phase(new_policy(), "adagrpo", fixed)
    alone, _ = rollouts(sequences(), np.arange(8), step=3, workers=CPU)
    shares = [
        rollouts(sequences(), np.arange(8), step=3, workers=Workers(rank, 2, CPU.device))[0]
        for rank in (0, 1)
    ]
    for rank, share in enumerate(shares):
        assert torch.equal(share.items, alone.items[rank::2])
        assert torch.equal(share.gate, alone.gate[rank::2])
        torch.testing.assert_close(share.advantages, alone.advantages[rank::2])
        assert share.scale == 2 * alone.scale == 2 / 8  # DDP's average makes it the batch mean
    later, _ = rollouts(sequences(), np.arange(8), step=4, workers=CPU)
    assert not torch.equal(later.items, alone.items)  # each step its own noise


def test_constrained_rollouts_stay_in_the_trie() -> None:
    listed = SidTrie(CODES[:3], torch.tensor([0, 1, 2]), (4, 4))
    rollouts, stats = phase(new_policy(), "mix", catalog=ALL_ITEMS, listed=listed)(
        sequences(), np.arange(8), step=0, workers=CPU
    )
    assert listed.contains(rollouts.items).all() and stats["hallucination"][0].item() == 0


def test_hallucinated_beams_are_dropped_from_their_group() -> None:
    odd = CODES[1::2]  # 8 of the 16 SIDs are items
    listed = SidTrie(odd, 4 * odd[:, 0] + odd[:, 1], (4, 4))
    free = SETTINGS.model_copy(update={"constrained": False, "rollout": "beam", "r_invalid": -1.0})
    rollouts, stats = phase(new_policy(), "mix", free, catalog=listed, listed=listed)(
        sequences(), np.arange(8), step=0, workers=CPU
    )
    hallucinated = ~listed.contains(rollouts.items)
    assert hallucinated.any() and (~hallucinated).any()
    assert not rollouts.active[hallucinated].any()  # no token of theirs enters the loss
    assert rollouts.advantages[hallucinated].abs().sum() == 0
    assert stats["hallucination"][0].item() == hallucinated.sum().item()


def test_a_logged_step_measures_the_grpo_terms_own_gradient() -> None:
    policy = new_policy()
    batch = step_batch(policy, "mix")
    _, mixed = gradients(policy, "mix", batch)
    _, nll = gradients(policy, "nll", dataclasses.replace(batch, rollouts=None))
    expected = torch.sqrt(sum(((g - nll.get(n, 0)) ** 2).sum() for n, g in mixed.items()))

    policy.zero_grad()
    torch.manual_seed(0)
    loss = PolicyLoss(policy, "mix", SETTINGS, ALL_ITEMS)
    _, measured = loss(dataclasses.replace(batch, measure=True))
    _, unmeasured = loss(batch)

    assert measured["grpo_grad_norm"][0].item() == pytest.approx(expected.item(), rel=1e-4)
    assert expected > 0 and "grpo_grad_norm" not in unmeasured
    assert all(p.grad is None for p in policy.parameters())  # measuring leaves .grad alone


def test_the_progress_line_shows_the_grpo_gradient_and_each_diagnostic(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="components.trainer.loop"):
        rl_train(tmp_path, method="mix", steps=4)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert len(lines) == 4
    pattern = r"grpo \|g\| \d+\.\d{3} admitted 100% \(difficult \d+%, discriminable \d+%\)"
    for line in lines:
        assert re.search(pattern, line), line
    assert any(not re.search(r"grpo \|g\| 0\.000", line) for line in lines)


def rl_train(
    root: Path, method: str = "adagrpo", seed: int = 0, sft_ema: float = 0.0, **rl: object
) -> Policy:
    settings = SETTINGS.model_copy(update=rl)
    torch.manual_seed(seed)
    policy = new_policy() if seed == 0 else Policy(POLICY).train()
    reference = Policy(POLICY).eval().requires_grad_(False) if settings.beta else None
    objective = Objective(
        PolicyLoss(policy, method, settings, ALL_ITEMS),
        phase(policy, method, settings, reference=reference),
    )
    run = PolicyRun(LocalStorage(root), DS, f"method={method}")
    sft = train_config(ema_decay=sft_ema)
    stream = spooled(sequences(), root / "spool", settings.batch_size)
    train_policy(policy, stream, sft, Budget.reinforced(settings), objective, run, CPU)
    return policy


@pytest.mark.parametrize("rollout", ["sample", "beam"])
def test_a_killed_rl_run_resumes_to_the_same_weights(tmp_path: Path, rollout: str) -> None:
    uninterrupted = rl_train(tmp_path / "a", rollout=rollout)
    run = PolicyRun(LocalStorage(tmp_path / "a"), DS, "method=adagrpo")
    assert run.checkpoint_steps() == [4, 8, 12]
    killed_after = random.Random(rollout).choice([4, 8])
    checkpoints = Path(run.prefix, "checkpoints")
    shutil.copytree(tmp_path / "a" / checkpoints, tmp_path / "b" / checkpoints)
    for step in run.checkpoint_steps():
        if step > killed_after:
            shutil.rmtree(tmp_path / "b" / run.checkpoint_key(step))

    resumed = rl_train(tmp_path / "b", rollout=rollout, seed=99)

    assert_same_weights(resumed, uninterrupted)
    assert (tmp_path / "a" / run.checkpoint_key(12) / MODEL_FILE).read_bytes() == (
        tmp_path / "b" / run.checkpoint_key(12) / MODEL_FILE
    ).read_bytes()


def test_rl_checkpoints_average_by_the_rl_setting_not_the_sft_one(tmp_path: Path) -> None:
    run = PolicyRun(LocalStorage(tmp_path / "trained"), DS, "method=adagrpo")
    policy = rl_train(tmp_path / "trained", sft_ema=0.99, ema_decay=0.0)
    assert_same_weights(run.load_policy(12), policy)  # no average behind the SFT's decay

    averaged = rl_train(tmp_path / "averaged", ema_decay=0.5)
    published = PolicyRun(LocalStorage(tmp_path / "averaged"), DS, "method=adagrpo")
    assert not torch.equal(published.load_policy(12).head.weight, averaged.head.weight)


def test_the_reference_never_changes(tmp_path: Path) -> None:
    torch.manual_seed(3)
    reference = Policy(POLICY).eval().requires_grad_(False)
    before = {name: value.clone() for name, value in reference.state_dict().items()}
    settings = SETTINGS.model_copy(update={"beta": 0.1, "steps": 4})
    policy = new_policy()
    objective = Objective(
        PolicyLoss(policy, "mix", settings, ALL_ITEMS),
        phase(policy, "mix", settings, reference=reference),
    )
    run = PolicyRun(LocalStorage(tmp_path), DS, "method=mix")
    stream = spooled(sequences(), tmp_path / "spool", settings.batch_size)
    state = train_policy(
        policy, stream, train_config(), Budget.reinforced(settings), objective, run, CPU
    )

    assert all(record["kl"] > 0 for record in state.metrics[1:])
    for name, value in reference.state_dict().items():
        assert torch.equal(value, before[name]), name


class _Exploding(Objective):
    """Supervised, with a loss that turns NaN from step 3 on."""

    def batch(self, sequences, index, step, workers, measure=False):  # type: ignore[no-untyped-def]
        batch, stats = super().batch(sequences, index, step, workers, measure)
        return dataclasses.replace(batch, normalizer=float("nan") if step >= 2 else 1.0), stats


def test_a_nan_loss_stops_the_run_naming_the_step(tmp_path: Path) -> None:
    policy = new_policy()
    objective = _Exploding(PolicyLoss(policy, "nll", SETTINGS, None))
    run = PolicyRun(LocalStorage(tmp_path), DS, "method=nll")

    stream = spooled(sequences(), tmp_path / "spool", SETTINGS.batch_size)
    with pytest.raises(TrainingDiverged, match=r"^step 3: the loss is nan"):
        train_policy(
            policy, stream, train_config(), Budget.reinforced(SETTINGS), objective, run, CPU
        )
