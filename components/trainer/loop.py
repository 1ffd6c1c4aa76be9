"""The training loop of every method, nanoGPT style: AdamW, warmup + cosine, gradient clipping,
bf16 autocast on CUDA, DDP under torchrun, an optional moving average of the weights, a
checkpoint every N steps and an exact resume from the newest one. What a step minimises is the
``Objective``'s business (``objective.py``); the loop only steps it.

Resume is exact because everything a step depends on is restored or derived: the weights (and
their average), AdamW's moments, the scheduler, every worker's RNG (dropout), the data position,
whose batches are a function of ``(seed, epoch)`` only (``stream.py``), and the rollouts, drawn
from noise seeded by ``(seed, step)``.

Under DDP every worker takes its share of each batch. The loss is normalised by the whole
batch and the rollouts' noise is made for the whole batch, so a run on W workers follows the
same trajectory as one process, up to rounding, except for dropout: each worker draws its own
dropout masks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from components.core.config import RLConfig, TrainConfig
from components.core.errors import BadInput
from components.policy.model import Policy
from components.trainer.checkpoints import PolicyRun, TrainingState
from components.trainer.distributed import Workers
from components.trainer.objective import Objective
from components.trainer.rl import Stats
from components.trainer.schedule import capped_warmup, warmup_cosine
from components.trainer.stream import SequenceStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """How long and how fast a run trains: SFT by epochs, RL methods by a step budget."""

    steps: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    checkpoint_every: int
    ema_decay: float  # of the moving average the checkpoints publish; 0 for the trained weights

    @classmethod
    def supervised(cls, settings: TrainConfig, sequences: SequenceStream) -> Budget:
        steps = settings.epochs * sequences.batches_per_epoch
        return cls(
            steps,
            settings.batch_size,
            settings.learning_rate,
            settings.warmup_steps,
            settings.checkpoint_every,
            settings.ema_decay,
        )

    @classmethod
    def reinforced(cls, settings: RLConfig) -> Budget:
        return cls(
            settings.steps,
            settings.batch_size,
            settings.learning_rate,
            settings.warmup_steps,
            settings.checkpoint_every,
            settings.ema_decay,
        )


class TrainingDiverged(BadInput):
    """A loss became NaN or infinite; the message names the step."""


def train_policy(
    policy: Policy,
    sequences: SequenceStream,
    settings: TrainConfig,
    budget: Budget,
    objective: Objective,
    run: PolicyRun,
    workers: Workers,
) -> TrainingState:
    """Train ``policy`` on ``objective`` for ``budget`` (resuming from ``run``'s newest
    checkpoint) and return the final state; ``sequences`` are spooled for the budget's batch
    size."""
    if sequences.batch_size != budget.batch_size:
        raise ValueError(
            f"sequences spooled for batches of {sequences.batch_size}, not {budget.batch_size}"
        )
    policy.to(workers.device).train()
    model: torch.nn.Module = objective.module
    if workers.world > 1:
        device_ids = [workers.device.index] if workers.device.type == "cuda" else None
        # Rollouts gate samples per worker: a step may leave some parameters without gradient.
        model = DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=objective.rollouts is not None
        )
    optimizer = adamw(policy, settings, budget.learning_rate)
    per_epoch = sequences.batches_per_epoch
    warmup = capped_warmup(budget.warmup_steps, budget.steps, settings.warmup_max_share)
    schedule = warmup_cosine(warmup, budget.steps, settings.min_lr_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    average = _weight_average(policy, budget.ema_decay)
    state = _resume(run, policy, average, optimizer, scheduler, workers) or TrainingState(0, 0, 0)

    use_bf16 = workers.device.type == "cuda"
    meter = _Meter(state.step, budget.steps, per_epoch, sequences.tokens_per_item)
    while state.step < budget.steps:
        batches = sequences.epoch(state.epoch, settings.seed, start=state.batch)
        for number, (window, index) in enumerate(batches, start=state.batch):
            step = state.step + 1
            save = step % budget.checkpoint_every == 0 or step == budget.steps
            # Every checkpoint ends with a progress line, so it records its own loss and epoch.
            logged = step % settings.log_every == 0 or save
            batch, prepared = objective.batch(window, index, state.step, workers, measure=logged)
            with torch.autocast(workers.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss, stats = model(batch)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"step {state.step + 1}: the loss is {loss.item()}; lower the learning "
                    f"rate, or the GRPO weight, and train again (--restart)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), settings.grad_clip)
            optimizer.step()
            scheduler.step()
            if average is not None:
                average.update_parameters(policy)
            done = number + 1 == per_epoch
            state = TrainingState(state.step + 1, state.epoch + done, 0 if done else number + 1,
                                  state.metrics)  # fmt: skip
            meter.add({**prepared, **stats}, grad_norm.detach(), len(index))
            if logged:
                record = meter.flush(state.step, float(scheduler.get_last_lr()[0]), workers)
                state.metrics.append(record)
                if workers.is_main:
                    log.info(meter.describe(record))
            if save:
                _save(run, policy, average, optimizer, scheduler, state, workers)
            if state.step == budget.steps:
                break
    return state


def _weight_average(policy: Policy, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``policy``'s parameters (None for decay 0). Its first
    update copies the weights, so the average never holds the random initialisation."""
    if decay == 0:
        return None
    return AveragedModel(policy, multi_avg_fn=get_ema_multi_avg_fn(decay))


def adamw(policy: Policy, settings: TrainConfig, learning_rate: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only (not on biases and norms)."""
    matrices = [p for p in policy.parameters() if p.dim() >= 2]
    vectors = [p for p in policy.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": settings.weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=(0.9, 0.98))


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
    """Losses, rollout statistics, gradient norm and throughput since the last progress line."""

    def __init__(self, step: int, total_steps: int, per_epoch: int, tokens_per_item: int) -> None:
        self.total_steps, self.per_epoch = total_steps, per_epoch
        self.tokens_per_item = tokens_per_item
        self.started = self.since = time.perf_counter()
        self.first_step = step
        self._reset()

    def _reset(self) -> None:
        self.sums: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.grad_sum = torch.zeros(())
        self.steps = 0
        self.sequences = 0

    def add(self, stats: Stats, grad_norm: torch.Tensor, sequences: int) -> None:
        """One step of this worker: its statistics (total, count), the (shared) gradient norm
        and the whole batch's sequences."""
        # Summed where they are (the device, for the loss): no host sync per step.
        for name, (total, count) in stats.items():
            old_total, old_count = self.sums.get(name, (torch.zeros(()), torch.zeros(())))
            self.sums[name] = (
                old_total.to(total.device) + total.float(),
                old_count.to(count.device) + count.float(),
            )
        self.grad_sum = self.grad_sum.to(grad_norm.device) + grad_norm.float()
        self.steps += 1
        self.sequences += sequences

    def flush(self, step: int, lr: float, workers: Workers) -> dict[str, Any]:
        names = sorted(self.sums)
        values = [self.grad_sum]
        for name in names:
            values.extend(self.sums[name])
        totals = torch.stack([v.to(workers.device) for v in values])
        if workers.world > 1:
            dist.all_reduce(totals)  # every worker's sums; the norm, world times
        grad, *pairs = totals.tolist()
        now = time.perf_counter()
        seconds = now - self.since
        record: dict[str, Any] = {
            "step": step,
            "epoch": round(step / self.per_epoch, 3),
            "loss": None,
            "lr": lr,
            "grad_norm": grad / workers.world / self.steps,
        }
        for name, total, count in zip(names, pairs[::2], pairs[1::2], strict=True):
            record[name] = total / count if count else None
        if "loss" in self.sums:  # predicted items, i.e. one-target examples
            tokens = pairs[2 * names.index("loss") + 1]
            record["examples_per_s"] = tokens / self.tokens_per_item / seconds
            record["tokens_per_s"] = tokens / seconds
        record["sequences_per_s"] = self.sequences / seconds
        record["elapsed_s"] = now - self.started
        self.since = now
        self._reset()
        return record

    def describe(self, record: dict[str, Any]) -> str:
        done = record["step"] - self.first_step
        left = (self.total_steps - record["step"]) * record["elapsed_s"] / max(done, 1)
        parts = [f"step {record['step']:,}/{self.total_steps:,} epoch {record['epoch']:.2f}"]
        if record["loss"] is not None:
            parts.append(f"loss {record['loss']:.4f}")
        if "admission" in record:
            parts.append(
                f"grpo |g| {record['grpo_grad_norm']:.3f} admitted {record['admission']:.0%} "
                f"(difficult {record['difficult']:.0%}, discriminable "
                f"{record['discriminable']:.0%}) reward {record['reward_mean']:.4f} flat "
                f"{record['zero_variance']:.0%} halluc {record['hallucination']:.1%}"
            )
        parts.append(f"lr {record['lr']:.2e} |g| {record['grad_norm']:.2f}")
        parts.append(f"{record['sequences_per_s']:,.0f} seq/s ETA {left:.0f}s")
        return " ".join(parts)
