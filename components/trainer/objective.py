"""What one optimizer step minimises, for every method.

``NextItemNLL`` is the supervised anchor: next-token NLL over whole-item sequences. ``PolicyLoss``
(the module DDP wraps) adds, for the samples the gate admits, the clipped GRPO surrogate over
their rollouts: ``L = L_nll + lambda * sum_i g_i * L_grpo_i / N`` (``grpo``: the GRPO term
alone). ``Objective`` prepares each step's batch: the sequences, and the rollouts of the RL
methods, made without gradient outside DDP (``rl.py``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from components.core.config import RLConfig
from components.core.methods import training_method
from components.policy.generation import sequence_logprob
from components.policy.model import PAD, Policy
from components.policy.trie import SidTrie
from components.trainer import grpo
from components.trainer.distributed import Workers
from components.trainer.rl import RolloutPhase, Rollouts, Stats, StepBatch, eval_mode
from components.trainer.sequences import Sequences


class NextItemNLL(nn.Module):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, codes: Tensor, targets: Tensor, normalizer: Tensor | float) -> Tensor:
        """The summed NLL of the target tokens over ``normalizer``; ``targets`` are ``codes``
        with PAD where nothing is predicted (padding, and each sequence's first item).

        With ``normalizer`` = the whole batch's target tokens / workers, DDP's average of the
        workers' gradients is exactly the gradient of the batch's mean NLL per token, however
        the tokens fell across workers (a worker's shard of a short batch may even be empty).
        """
        logits = self.policy.forward_sequences(codes)
        nll = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=PAD, reduction="sum"
        )
        return nll / normalizer


class PolicyLoss(nn.Module):
    """The step's loss and its statistics (see the module docstring)."""

    def __init__(
        self, policy: Policy, method: str, settings: RLConfig, trie: SidTrie | None
    ) -> None:
        super().__init__()
        self.policy, self.settings, self.trie = policy, settings, trie
        self.method = training_method(method)
        self.nll = NextItemNLL(policy)

    def forward(self, batch: StepBatch) -> tuple[Tensor, Stats]:
        stats: Stats = {}
        loss = torch.zeros((), device=batch.codes.device)
        if self.method.nll_anchor:
            loss = self.nll(batch.codes, batch.targets, batch.normalizer)
            tokens = (batch.targets != PAD).sum().float()
            stats["loss"] = (loss.detach() * batch.normalizer, tokens)
        rollouts = batch.rollouts
        if rollouts is None:
            return loss, stats
        term, kl_sum, kl_tokens = self._grpo(rollouts)
        weight = self.settings.grpo_weight if self.method.weighted else 1.0
        weighted = weight * term * rollouts.scale
        loss = loss + weighted
        samples = torch.tensor(float(len(rollouts.gate)))
        stats["grpo_loss"] = (term.detach().cpu(), samples)
        stats["kl"] = (kl_sum.cpu(), kl_tokens.cpu())
        if batch.measure:
            stats["grpo_grad_norm"] = (self._gradient_norm(weighted), torch.ones(()))
        return loss, stats

    def _gradient_norm(self, term: Tensor) -> Tensor:
        """The norm of ``term``'s own gradient: what the reward pushes with, beside the NLL.

        The surrogate's value says nothing (its ratio is 1 on the step that draws the
        rollouts); its gradient does. Measured on logged steps only (a second backward pass
        over the GRPO graph), without touching ``.grad``, so DDP's reduction never sees it."""
        if not term.requires_grad:
            return torch.zeros(())
        parameters = [p for p in self.policy.parameters() if p.requires_grad]
        grads = torch.autograd.grad(term, parameters, retain_graph=True, allow_unused=True)
        squares = [g.detach().float().pow(2).sum() for g in grads if g is not None]
        return torch.stack(squares).sum().sqrt().cpu() if squares else torch.zeros(())

    def _grpo(self, rollouts: Rollouts) -> tuple[Tensor, Tensor, Tensor]:
        """The sum over the admitted samples of their GRPO loss; the KL's sum and tokens."""
        settings = self.settings
        # A group whose rewards are all equal has no advantage: without a KL it adds nothing.
        signal = rollouts.advantages.abs().sum(1) > 0
        rows = (rollouts.gate > 0) & (signal | (rollouts.ref_logp is not None))
        zero = rollouts.advantages.new_zeros(())
        if not bool(rows.any()):
            return zero, zero, zero
        active = rollouts.active[rows]
        with eval_mode(self.policy):  # as the rollouts were drawn: the ratio starts at 1
            logp = sequence_logprob(
                self.policy,
                rollouts.history[rows],
                rollouts.items[rows],
                settings.temperature,
                self.trie,
            ).masked_fill(~active, 0.0)
        token_loss = grpo.clipped_token_loss(
            logp,
            rollouts.old_logp[rows],
            rollouts.advantages[rows],
            settings.eps_low,
            settings.eps_high,
        )
        kl_sum, kl_tokens = zero, zero
        if rollouts.ref_logp is not None:
            kl = grpo.k3_kl(logp, rollouts.ref_logp[rows].masked_fill(~active, 0.0))
            token_loss = token_loss + settings.beta * kl
            kl_sum, kl_tokens = (kl * active).sum().detach(), active.sum().float()
        per_sample = grpo.per_sample_loss(token_loss, active, settings.loss_aggregation)
        return per_sample.sum(), kl_sum, kl_tokens


class Objective:
    """A method's loss module and the preparation of its batches."""

    def __init__(self, loss: PolicyLoss, rollouts: RolloutPhase | None = None) -> None:
        self.module, self.rollouts = loss, rollouts

    @classmethod
    def supervised(cls, policy: Policy) -> Objective:
        return cls(PolicyLoss(policy, "nll", RLConfig(), None))

    def batch(
        self,
        sequences: Sequences,
        index: np.ndarray,
        step: int,
        workers: Workers,
        measure: bool = False,
    ) -> tuple[StepBatch, Stats]:
        """This worker's share of the batch of sequences ``index`` at ``step``, with its
        rollouts; the statistics of the rollout phase. ``measure``: the step is logged, so
        the GRPO term's gradient norm is measured too."""
        codes, targets = sequences.batch(index)
        normalizer = (targets != PAD).sum().item() / workers.world
        codes = workers.shard(codes).to(workers.device, non_blocking=True)
        targets = workers.shard(targets).to(workers.device, non_blocking=True)
        if self.rollouts is None:
            return StepBatch(codes, targets, normalizer, None), {}
        rollouts, stats = self.rollouts(sequences, index, step, workers)
        return StepBatch(codes, targets, normalizer, rollouts, measure), stats
