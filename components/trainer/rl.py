"""Reward-guided training: one step of every RL method, split where TRL splits it.

1. ``RolloutPhase`` (no gradient, outside DDP): for each sample (a sequence's last item and
   the history before it), G rollouts from the policy in eval mode, drawn from noise seeded by
   (seed, step) for the whole batch and split with it, so that a resumed run draws the same
   ones, and so does a run on any number of workers (beam rollouts are deterministic); each
   rollout mapped to its item or marked hallucinated (a hallucinated beam is dropped from its
   group, a hallucinated sample earns ``r_invalid``); rewards in one batched call; group
   advantages; the two diagnostics and the gate; the reference's log-probs when the KL is on.
2. ``objective.PolicyLoss`` (the module DDP wraps): the NLL anchor and, for the admitted
   samples only, the clipped GRPO surrogate from one teacher-forced pass over their rollouts,
   under the sampler's temperature and trie so that the ratio is exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import Tensor, nn

from components.core.config import RLConfig
from components.policy.generation import Generated, beam_search, sample, sequence_logprob
from components.policy.model import Policy
from components.policy.trie import SidTrie
from components.trainer import gate, grpo
from components.trainer.distributed import Workers
from components.trainer.rewards import NO_ITEM, GroupReward, Rollout, Scored
from components.trainer.sequences import Sequences

Stats = dict[str, tuple[Tensor, Tensor]]  # name: (total, count), summed over steps and workers


@dataclass(frozen=True)
class Rollouts:
    """What the gradient pass needs from the rollout phase, for this worker's samples."""

    history: Tensor  # (n, W) left-padded
    items: Tensor  # (n, G, L) rollout codes
    old_logp: Tensor  # (n, G, L) per-token log-probs under the sampler (0 where inactive)
    active: Tensor  # (n, G, L) tokens of real rollouts
    advantages: Tensor  # (n, G)
    gate: Tensor  # (n,) 0/1
    ref_logp: Tensor | None  # (n, G, L) under the frozen reference, when the KL is on
    scale: float  # workers / N: a worker's sum over its samples, DDP-averaged, is the mean


@dataclass(frozen=True)
class Outcome:
    """What the rollouts of a batch of samples found, before any gradient."""

    generated: Generated  # (n, G, L) rollout SIDs and their per-token log-probs
    active: Tensor  # (n, G, L) tokens of real rollouts
    valid: Tensor  # (n, G) the rollouts that make up each group
    item_ids: Tensor  # (n, G) the item of each rollout, NO_ITEM for hallucinations
    hallucinated: Tensor  # (n, G) real rollouts that are no item
    scored: Scored  # the rewards, and the judge's scores the diagnostics read
    diagnostics: gate.Diagnostics
    gate: Tensor  # (n,) 0/1 under the method


@dataclass(frozen=True)
class StepBatch:
    codes: Tensor  # (B, T) whole sequences, right-padded
    targets: Tensor  # the codes with PAD where nothing is predicted
    normalizer: float  # the whole batch's target tokens / workers
    rollouts: Rollouts | None
    measure: bool = False  # also measure the GRPO term's own gradient norm (a logged step)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Dropout off for the duration: rollouts and their log-probs see the same network."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class RolloutPhase:
    def __init__(
        self,
        policy: Policy,
        reference: Policy | None,
        reward: GroupReward,
        settings: RLConfig,
        method: str,
        catalog: SidTrie,
        listed: SidTrie,
        seed: int,
    ) -> None:
        """``catalog`` maps rollout SIDs to items (every item with a SID); ``listed`` is the
        trie of recommendable items that constrained rollouts stay in."""
        self.policy, self.reference, self.reward = policy, reference, reward
        self.settings, self.method = settings, method
        self.catalog, self.seed = catalog, seed
        self.trie = listed if settings.constrained else None
        self.thresholds = gate.Thresholds.of(settings)

    def noise(self, step: int, samples: int) -> Tensor | None:
        """The uniforms (samples, G, L) the sampled rollouts of ``step``'s batch of ``samples``
        draw from, seeded by (seed, step) and made for the whole batch: a sample's rollouts do
        not depend on which worker draws them. None for beam rollouts, which draw nothing."""
        if self.settings.rollout == "beam":
            return None
        seeds = np.random.SeedSequence([self.seed, step])
        generator = torch.Generator().manual_seed(int(seeds.generate_state(1, np.uint64)[0]))
        shape = (samples, self.settings.group_size, self.policy.config.tokens_per_item)
        return torch.rand(shape, generator=generator)

    @torch.no_grad()
    def explore(
        self,
        history: Tensor,
        target_codes: Tensor,
        users: Tensor,
        targets: Tensor,
        noise: Tensor | None,
        pool: gate.Pool = gate.alone,
    ) -> Outcome:
        """Rollouts, rewards, diagnostics and gate of the samples ``(history, target)``:
        histories (n, W) and target SIDs (n, L) on the policy's device, user and target item
        ids (n,) on the CPU, and the samples' rows of ``noise``; ``pool`` gathers the other
        workers' diagnostics for the quantile thresholds."""
        settings = self.settings
        with eval_mode(self.policy):
            generated = self._generate(history, noise)
            probability = None
            if settings.difficulty == "probability":
                logp = sequence_logprob(self.policy, history, target_codes)
                probability = logp.sum(-1).exp().cpu()
        active = torch.isfinite(generated.token_logprobs)
        real = active.all(-1).cpu()  # a small trie may leave a beam search empty beams
        items = generated.items.cpu()
        item_ids = self.catalog.lookup(items).masked_fill(~real, NO_ITEM)
        hallucinated = real & (item_ids == NO_ITEM)
        valid = real & ~hallucinated if settings.rollout == "beam" else real
        scored = self.reward(Rollout(users, targets, item_ids, valid, generated.logprobs.cpu()))
        diagnostics = gate.diagnose(
            item_ids == targets[:, None],
            items,
            valid,
            scored.judged,
            scored.target_judged,
            probability,
            self.thresholds,
            pool,
        )
        return Outcome(
            generated, active & valid.to(active.device)[..., None], valid, item_ids,
            hallucinated, scored, diagnostics, gate.gate(self.method, diagnostics),
        )  # fmt: skip

    def __call__(
        self, sequences: Sequences, batch: np.ndarray, step: int, workers: Workers
    ) -> tuple[Rollouts, Stats]:
        """Rollouts of this worker's share of the batch of sequences ``batch`` at ``step``."""
        settings = self.settings
        device = next(self.policy.parameters()).device
        index = workers.shard(batch)
        noise = self.noise(step, len(batch))
        history, target_codes = sequences.last_examples(index)
        history = history.to(device)
        outcome = self.explore(
            history,
            target_codes.to(device),
            sequences.users[index],
            sequences.last_items[index],
            None if noise is None else workers.shard(noise),
            partial(workers.pooled, width=-(-len(batch) // workers.world)),
        )
        generated, valid, rewards = outcome.generated, outcome.valid, outcome.scored.rewards
        ref_logp = None
        if settings.beta > 0 and self.reference is not None:
            with torch.no_grad():
                ref_logp = sequence_logprob(
                    self.reference, history, generated.items, settings.temperature, self.trie
                )
        rollouts = Rollouts(
            history=history,
            items=generated.items,
            old_logp=generated.token_logprobs.masked_fill(~outcome.active, 0.0),
            active=outcome.active,
            advantages=grpo.advantages(rewards, valid, settings.advantage).to(device),
            gate=outcome.gate.to(device),
            ref_logp=ref_logp,
            scale=workers.world / len(batch),
        )
        n = torch.tensor(float(len(index)))
        member = valid.float()
        real = (valid | outcome.hallucinated).float()
        diagnostics = outcome.diagnostics
        stats: Stats = {
            "admission": (outcome.gate.sum(), n),
            "difficult": (diagnostics.difficult.float().sum(), n),
            "discriminable": (diagnostics.discriminable.float().sum(), n),
            "reward_mean": ((rewards * member).sum(), member.sum()),
            "reward_std": (_group_std(rewards, valid).sum(), n),
            "zero_variance": (grpo.zero_variance(rewards, valid).float().sum(), n),
            "hallucination": (outcome.hallucinated.float().sum(), real.sum()),
        }
        return rollouts, stats

    def _generate(self, history: Tensor, noise: Tensor | None) -> Generated:
        settings = self.settings
        if noise is None:
            return beam_search(self.policy, history, settings.group_size, self.trie)
        return sample(
            self.policy, history, settings.group_size, settings.temperature, self.trie, noise
        )


def _group_std(rewards: Tensor, valid: Tensor) -> Tensor:
    count = valid.sum(1).clamp(min=1)
    mean = (rewards * valid).sum(1) / count
    return (((rewards - mean[:, None]) * valid) ** 2).sum(1).div(count).sqrt()
