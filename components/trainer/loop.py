"""The SFT training loop, nanoGPT style: AdamW, warmup + cosine, gradient clipping, bf16 autocast
on CUDA, DDP under torchrun, an optional moving average of the weights, a checkpoint every N
steps and an exact resume from the newest one.

Resume is exact because everything a step depends on is restored or derived: the weights (and
their average), AdamW's moments, the scheduler, every worker's RNG (dropout), and the data
position, whose batches are a function of ``(seed, epoch)`` only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from components.core.config import TrainConfig
from components.policy.model import PAD, Policy
from components.trainer.checkpoints import PolicyRun, TrainingState
from components.trainer.distributed import Workers
from components.trainer.objective import NextItemNLL
from components.trainer.schedule import warmup_cosine
from components.trainer.sequences import Sequences, iterate

log = logging.getLogger(__name__)


def train_policy(
    policy: Policy, sequences: Sequences, settings: TrainConfig, run: PolicyRun, workers: Workers
) -> TrainingState:
    """Train ``policy`` (resuming from ``run``'s newest checkpoint) and return the final state."""
    policy.to(workers.device).train()
    objective: torch.nn.Module = NextItemNLL(policy)
    if workers.world > 1:
        device_ids = [workers.device.index] if workers.device.type == "cuda" else None
        objective = DistributedDataParallel(objective, device_ids=device_ids)
    optimizer = adamw(policy, settings)
    per_epoch = sequences.batches_per_epoch(settings.batch_size)
    total_steps = settings.epochs * per_epoch
    schedule = warmup_cosine(settings.warmup_steps, total_steps, settings.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    average = _weight_average(policy, settings.ema_decay)
    state = _resume(run, policy, average, optimizer, scheduler, workers) or TrainingState(0, 0, 0)
    if state.step >= total_steps:
        return state

    use_bf16 = workers.device.type == "cuda"
    meter = _Meter(state.step, total_steps, per_epoch, sequences.tokens_per_item)
    for epoch in range(state.epoch, settings.epochs):
        skip = state.batch if epoch == state.epoch else 0
        for number, codes, targets in iterate(
            sequences, epoch, settings.seed, settings.batch_size, skip
        ):
            normalizer = (targets != PAD).sum().item() / workers.world
            codes = workers.shard(codes).to(workers.device, non_blocking=True)
            targets = workers.shard(targets).to(workers.device, non_blocking=True)
            with torch.autocast(workers.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = objective(codes, targets, normalizer)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), settings.grad_clip)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update_parameters(policy)
            done = number + 1 == per_epoch
            state = TrainingState(state.step + 1, epoch + done, 0 if done else number + 1,
                                  state.metrics)  # fmt: skip
            meter.add(loss.detach() * normalizer, grad_norm.detach(), targets)
            # Every checkpoint ends with a progress line, so it records its own loss and epoch.
            save = state.step % settings.checkpoint_every == 0 or state.step == total_steps
            if state.step % settings.log_every == 0 or save:
                record = meter.flush(state.step, float(scheduler.get_last_lr()[0]), workers)
                state.metrics.append(record)
                if workers.is_main:
                    log.info(meter.describe(record))
            if save:
                _save(run, policy, average, optimizer, scheduler, state, workers)
    return state


def _weight_average(policy: Policy, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``policy``'s parameters (None for decay 0). Its first
    update copies the weights, so the average never holds the random initialisation."""
    if decay == 0:
        return None
    return AveragedModel(policy, multi_avg_fn=get_ema_multi_avg_fn(decay))


def adamw(policy: Policy, settings: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only (not on biases and norms)."""
    matrices = [p for p in policy.parameters() if p.dim() >= 2]
    vectors = [p for p in policy.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": settings.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings.learning_rate, betas=(0.9, 0.98))


def _resume(
    run: PolicyRun,
    policy: Policy,
    average: AveragedModel | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    workers: Workers,
) -> TrainingState | None:
    steps = run.checkpoint_steps()
    if not steps:
        return None
    checkpoint = run.load(steps[-1], policy, None if average is None else average.module)
    if average is not None:
        average.n_averaged.fill_(checkpoint.state.step)  # averaging goes on; no fresh copy
    optimizer.load_state_dict(checkpoint.optimizer)
    scheduler.load_state_dict(checkpoint.scheduler)
    if not workers.restore_rng(checkpoint.rng):
        log.warning(
            "checkpoint has no RNG state for rank %d: dropout noise will differ", workers.rank
        )
    if workers.is_main:
        log.info("resuming from %s", run.storage.uri(run.checkpoint_key(steps[-1])))
    return checkpoint.state


def _save(
    run: PolicyRun,
    policy: Policy,
    average: AveragedModel | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    state: TrainingState,
    workers: Workers,
) -> None:
    rng = workers.rng_states()  # collective: every worker takes part
    if workers.is_main:
        run.save(
            policy, optimizer, scheduler, rng, state, None if average is None else average.module
        )
        log.info("checkpoint %s", run.storage.uri(run.checkpoint_key(state.step)))
    workers.barrier()


class _Meter:
    """Loss, gradient norm and throughput since the last progress line."""

    def __init__(self, step: int, total_steps: int, per_epoch: int, tokens_per_item: int) -> None:
        self.total_steps, self.per_epoch, self.tokens_per_item = (
            total_steps,
            per_epoch,
            tokens_per_item,
        )
        self.started = self.since = time.perf_counter()
        self.first_step = step
        self._reset()

    def _reset(self) -> None:
        self.nll_sum = torch.zeros(())
        self.grad_sum = torch.zeros(())
        self.steps = 0
        self.tokens = torch.zeros((), dtype=torch.long)

    def add(self, nll_sum: torch.Tensor, grad_norm: torch.Tensor, targets: torch.Tensor) -> None:
        """One step of this worker: its summed NLL, the (shared) gradient norm, its targets."""
        # Summed on the device: no host sync per step.
        self.nll_sum = self.nll_sum.to(nll_sum.device) + nll_sum.float()
        self.grad_sum = self.grad_sum.to(grad_norm.device) + grad_norm.float()
        self.tokens = self.tokens.to(targets.device) + (targets != PAD).sum()
        self.steps += 1

    def flush(self, step: int, lr: float, workers: Workers) -> dict[str, Any]:
        totals = torch.stack([self.nll_sum, self.grad_sum, self.tokens.float()]).to(workers.device)
        if workers.world > 1:
            dist.all_reduce(totals)  # NLL and tokens of every worker; the norm, world times
        nll, grad, tokens = totals.tolist()
        now = time.perf_counter()
        seconds = now - self.since
        examples = tokens / self.tokens_per_item  # predicted items, i.e. one-target examples
        record = {
            "step": step,
            "epoch": round(step / self.per_epoch, 3),
            "loss": nll / max(tokens, 1.0),
            "lr": lr,
            "grad_norm": grad / workers.world / self.steps,
            "examples_per_s": examples / seconds,
            "tokens_per_s": tokens / seconds,
            "elapsed_s": now - self.started,
        }
        self.since = now
        self._reset()
        return record

    def describe(self, record: dict[str, Any]) -> str:
        done = record["step"] - self.first_step
        left = (self.total_steps - record["step"]) * record["elapsed_s"] / max(done, 1)
        return (
            f"step {record['step']:,}/{self.total_steps:,} epoch {record['epoch']:.2f} "
            f"loss {record['loss']:.4f} lr {record['lr']:.2e} |g| {record['grad_norm']:.2f} "
            f"{record['examples_per_s']:,.0f} examples/s ETA {left:.0f}s"
        )
