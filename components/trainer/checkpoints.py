"""A policy training run and its checkpoints, under ``models/policy/dt=<ds>/<run key>/``.

The run key names the method and the knobs that tell its variants apart (``run_key``):
``method=nll`` (SFT), ``method=nll,continued``, ``method=mix,lambda=0.5``,
``method=adagrpo,lambda=1,seed=2``, ...

```
spec.json                      what the run trains (policy shape, settings, dataset)
checkpoints/step-000000500/    model.safetensors      the policy weights (their moving average
                                                      when train.ema_decay > 0)
                               trainer.safetensors    optimizer moments, RNG states per rank,
                                                      the trained weights when averaged
                               state.json             step, data position, scheduler, policy
                                                      config, metrics so far
                               _MANIFEST.json         the sha256 of each of the three
metrics.jsonl                  the training log up to the newest checkpoint
_MANIFEST.json                 written last: the run is complete
```

A run is trained as an *attempt* beside it, ``models/policy/dt=<ds>/_attempts/<run key>/
<spec digest>/``, and published as the run only when complete: a retrain with other settings
never destroys the finished run, which stays readable until its replacement is whole, and a
killed attempt resumes from its own newest checkpoint.

Each checkpoint is committed with its own manifest, so a run killed while saving leaves the
previous checkpoint as the newest. Nothing is unpickled: tensors are safetensors, the rest JSON,
and every file is checked against its recorded sha256 before use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from components.core import partitions
from components.core.errors import BadInput, MissingInput
from components.core.layout import (
    EVALUATION_SUMMARY,
    MODELS_POLICY,
    RUN_EVALUATION,
    RUN_METRICS,
    SFT_KEY,
    check_run_key,
    partition,
    train_command,
)
from components.core.storage import Storage
from components.policy.model import FORMAT as POLICY_FORMAT
from components.policy.model import Policy, PolicyConfig

ATTEMPTS = "_attempts"
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.safetensors"
STATE_FILE = "state.json"
STEP_PREFIX = "step-"
TRAINED_PREFIX = "trained."  # trainer-file keys of the trained weights behind an average


@dataclass
class TrainingState:
    """Where training stands after ``step`` optimizer steps."""

    step: int
    epoch: int  # the epoch of the next batch
    batch: int  # the next batch's number within its epoch
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint restores besides the weights."""

    state: TrainingState
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, torch.Tensor]  # "rank<r>.cpu" / "rank<r>.cuda"


class PolicyRun:
    def __init__(self, storage: Storage, ds: date, key: str, prefix: str | None = None) -> None:
        self.storage, self.ds, self.key = storage, ds, check_run_key(key)
        self.prefix = prefix or f"{partition(MODELS_POLICY, ds)}/{key}"

    def attempts_prefix(self) -> str:
        return f"{partition(MODELS_POLICY, self.ds)}/{ATTEMPTS}/{self.key}"

    def attempt(self, spec: dict[str, Any]) -> PolicyRun:
        """Where the run of ``spec`` trains until it completes (see the module docstring)."""
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        return PolicyRun(self.storage, self.ds, self.key, f"{self.attempts_prefix()}/{digest}")

    def attempts(self) -> list[PolicyRun]:
        """The attempts of this run still in progress (one per spec), oldest name first."""
        prefix = self.attempts_prefix()
        return [
            PolicyRun(self.storage, self.ds, self.key, f"{prefix}/{name}")
            for name in self.storage.list_folders(prefix)
        ]

    def checkpoint_key(self, step: int) -> str:
        return f"{self.prefix}/checkpoints/{STEP_PREFIX}{step:09d}"

    @property
    def metrics_key(self) -> str:
        """The training log, up to the newest checkpoint."""
        return f"{self.prefix}/{RUN_METRICS}"

    @property
    def evaluation(self) -> str:
        """Where ``adagrpo evaluate`` publishes the run's scores."""
        return f"{self.prefix}/{RUN_EVALUATION}"

    @property
    def evaluation_summary(self) -> str:
        return f"{self.prefix}/{EVALUATION_SUMMARY}"

    def checkpoint_steps(self) -> list[int]:
        """Steps of the committed checkpoints, oldest first."""
        marker = f"/{partitions.MANIFEST}"
        keys = self.storage.list_keys(f"{self.prefix}/checkpoints")
        return sorted(
            int(key.rsplit("/", 2)[-2].removeprefix(STEP_PREFIX))
            for key in keys
            if key.endswith(marker)
        )

    # -- the run as a whole -------------------------------------------------------------------

    def read_spec(self) -> dict[str, Any] | None:
        key = f"{self.prefix}/spec.json"
        return self.storage.read_json(key) if self.storage.exists(key) else None

    def write_spec(self, spec: dict[str, Any]) -> None:
        self.storage.write_json(f"{self.prefix}/spec.json", spec)

    def is_complete(self) -> bool:
        return partitions.is_published(self.storage, self.prefix)

    def manifest(self) -> dict[str, Any]:
        return partitions.read_manifest(self.storage, self.prefix)

    def promote(self, attempt: PolicyRun, summary: dict[str, Any]) -> None:
        """Publish the finished ``attempt`` as this run, replacing any earlier one (and its
        evaluation) at once; the run's other attempts are superseded and removed."""
        manifest: dict[str, Any] = {"producer": "train", "ds": self.ds.isoformat()}
        manifest.update(summary, run=self.key)
        partitions.publish(self.storage, attempt.prefix, self.prefix, manifest)
        self.storage.delete_prefix(self.attempts_prefix())

    def clear(self) -> None:
        self.storage.delete_prefix(self.prefix)

    # -- checkpoints --------------------------------------------------------------------------

    def save(
        self,
        policy: Policy,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        rng: dict[str, torch.Tensor],
        state: TrainingState,
        average: torch.nn.Module | None = None,
    ) -> None:
        """Commit a checkpoint of ``policy``; with ``average`` (its moving average), the average
        is the checkpoint's model and the trained weights go with the trainer's state."""
        weights = _weights(policy if average is None else average)
        optimizer_state = optimizer.state_dict()
        tensors = {
            f"optimizer.{index}.{name}": value.cpu().contiguous()
            for index, moments in optimizer_state["state"].items()
            for name, value in moments.items()
        }
        tensors.update({f"rng.{name}": value for name, value in rng.items()})
        if average is not None:
            tensors.update({TRAINED_PREFIX + name: t for name, t in _tensors(policy).items()})
        document = {
            "step": state.step,
            "epoch": state.epoch,
            "batch": state.batch,
            "policy": policy_config_json(policy.config),
            "optimizer_param_groups": optimizer_state["param_groups"],
            "scheduler": scheduler.state_dict(),
            "metrics": state.metrics,
        }
        metrics = "".join(json.dumps(line) + "\n" for line in state.metrics).encode()
        partitions.publish_files(
            self.storage,
            self.checkpoint_key(state.step),
            {MODEL_FILE: weights, TRAINER_FILE: save_tensors(tensors), STATE_FILE: document},
            {"producer": "train", "step": state.step},
        )
        self.storage.write_bytes(self.metrics_key, metrics)

    def policy_config(self) -> PolicyConfig:
        """The policy shape the run trains (from its spec)."""
        spec = self.read_spec()
        if spec is None:
            raise MissingInput(f"{self.storage.uri(self.prefix)} has no training run")
        return policy_config_from_json(spec["policy"])

    def checkpoint_info(self, step: int) -> dict[str, Any]:
        """Step, epoch, weights digest and training loss of a checkpoint (the training loop
        logs a progress line at every checkpoint step), after checking every file of it."""
        manifest = partitions.verify_files(self.storage, self.checkpoint_key(step))
        document = self._state_document(step)
        last = document["metrics"][-1] if document["metrics"] else {}
        return {
            "step": step,
            "epoch": last.get("epoch"),
            "model_sha256": manifest["sha256"][MODEL_FILE],
            "train_loss": last.get("loss"),
        }

    def load_policy(self, step: int) -> Policy:
        """The policy of checkpoint ``step`` in eval mode, after checking its files."""
        document = self._state_document(step)
        policy = Policy(policy_config_from_json(document["policy"]))
        policy.load_state_dict(load_tensors(self._read(step, MODEL_FILE)), strict=True)
        return policy.eval()

    def load(self, step: int, policy: Policy, average: torch.nn.Module | None = None) -> Checkpoint:
        """Load checkpoint ``step`` into ``policy`` (and its moving average into ``average``, which
        a checkpoint saved with one needs); the rest to restore optimizer and scheduler."""
        document = self._state_document(step)
        uri = self.storage.uri(self.checkpoint_key(step))
        if policy_config_from_json(document["policy"]) != policy.config:
            raise BadInput(f"{uri}: other policy shape")
        published = load_tensors(self._read(step, MODEL_FILE))
        tensors = load_tensors(self._read(step, TRAINER_FILE))
        moments: dict[int, dict[str, torch.Tensor]] = {}
        rng, trained = {}, {}
        for key, value in tensors.items():
            kind, rest = key.split(".", 1)
            if kind == "rng":
                rng[rest] = value
            elif key.startswith(TRAINED_PREFIX):
                trained[key.removeprefix(TRAINED_PREFIX)] = value
            else:
                index, name = rest.split(".", 1)
                moments.setdefault(int(index), {})[name] = value
        if bool(trained) != (average is not None):
            raise BadInput(
                f"{uri} was saved {'with' if trained else 'without'} a weight average: resume "
                f"it with the ema_decay it was trained with (train.*, or rl.* for RL methods), or "
                f"--restart"
            )
        if average is None:
            policy.load_state_dict(published, strict=True)
        else:
            policy.load_state_dict(trained, strict=True)
            average.load_state_dict(published, strict=True)
        state = TrainingState(
            document["step"], document["epoch"], document["batch"], document["metrics"]
        )
        optimizer = {"state": moments, "param_groups": document["optimizer_param_groups"]}
        return Checkpoint(state, optimizer, document["scheduler"], rng)

    def _state_document(self, step: int) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self._read(step, STATE_FILE))
        return document

    def _read(self, step: int, name: str) -> bytes:
        """A file of checkpoint ``step``; raises unless committed and intact."""
        key = self.checkpoint_key(step)
        manifest = partitions.read_manifest(self.storage, key)
        return partitions.read_verified(self.storage, key, name, manifest)


@dataclass(frozen=True)
class StartingPoint:
    """The checkpoint an RL run starts from and keeps, frozen, as its reference policy."""

    run: PolicyRun
    step: int
    model_sha256: str

    @classmethod
    def best_of(cls, run: PolicyRun) -> StartingPoint:
        """The run's best checkpoint on validation, as its evaluation chose it."""
        ds = run.ds.isoformat()
        if not run.is_complete():
            raise BadInput(
                f"no complete run to start from at {run.storage.uri(run.prefix)}: run "
                f"`{train_command(run.ds, run.key)}` first"
            )
        evaluation = run.evaluation
        if not partitions.is_published(run.storage, evaluation):
            raise BadInput(
                f"{run.storage.uri(run.prefix)} is not evaluated, so it has no best checkpoint "
                f"to start from: run `adagrpo evaluate --ds {ds} --run {run.key}` first"
            )
        step = int(partitions.read_manifest(run.storage, evaluation)["best_step"])
        return cls(run, step, run.checkpoint_info(step)["model_sha256"])

    def load(self) -> Policy:
        return self.run.load_policy(self.step)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run.key, "step": self.step, "model_sha256": self.model_sha256}


def evaluated_runs(storage: Storage, ds: date) -> list[PolicyRun]:
    """Every run of ``ds`` with a published evaluation, SFT first."""
    folder = partition(MODELS_POLICY, ds)
    keys = [key for key in storage.list_folders(folder) if key != ATTEMPTS]
    runs = [PolicyRun(storage, ds, key) for key in keys]
    evaluated = [r for r in runs if partitions.is_published(storage, r.evaluation)]
    return sorted(evaluated, key=lambda run: (run.key != SFT_KEY, run.key))


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().cpu().contiguous() for name, t in module.state_dict().items()}


def _weights(module: torch.nn.Module) -> bytes:
    return save_tensors(_tensors(module))


def policy_config_json(config: PolicyConfig) -> dict[str, Any]:
    """The config as saved, with the model format: a run of another format retrains."""
    return {**asdict(config), "vocab_sizes": list(config.vocab_sizes), "format": POLICY_FORMAT}


def policy_config_from_json(document: dict[str, Any]) -> PolicyConfig:
    fields = dict(document)
    saved = fields.pop("format", 1)
    if saved != POLICY_FORMAT:
        raise BadInput(
            f"the policy was saved in model format {saved} and this version reads format "
            f"{POLICY_FORMAT}: train it again (`adagrpo train --restart`)"
        )
    return PolicyConfig(**{**fields, "vocab_sizes": tuple(fields["vocab_sizes"])})
