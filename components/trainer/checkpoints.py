"""A policy training run and its checkpoints, under ``models/policy/dt=<ds>/method=<method>/``.

```
spec.json                      what the run trains (policy shape, settings, dataset): a rerun
                               with other settings must say --restart
checkpoints/step-000000500/    model.safetensors      the policy weights (their moving average
                                                      when train.ema_decay > 0)
                               trainer.safetensors    optimizer moments, RNG states per rank,
                                                      the trained weights when averaged
                               state.json             step, data position, scheduler, policy
                                                      config, metrics so far, sha256s
metrics.jsonl                  the training log up to the newest checkpoint
_MANIFEST.json                 written last: the run is complete
```

Each checkpoint is committed with its own manifest, so a run killed while saving leaves the
previous checkpoint as the newest. Nothing is unpickled: tensors are safetensors, the rest JSON,
and weights are checked against their recorded sha256 before use.
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
from components.core.layout import partition
from components.core.storage import Storage
from components.policy.model import FORMAT as POLICY_FORMAT
from components.policy.model import Policy, PolicyConfig
from components.ranker.artifacts import ArtifactIntegrityError

MODELS_POLICY = "models/policy"
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
    def __init__(self, storage: Storage, ds: date, method: str) -> None:
        self.storage, self.ds, self.method = storage, ds, method
        self.prefix = f"{partition(MODELS_POLICY, ds)}/method={method}"

    def checkpoint_key(self, step: int) -> str:
        return f"{self.prefix}/checkpoints/{STEP_PREFIX}{step:09d}"

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

    def complete(self, summary: dict[str, Any]) -> None:
        """Mark the run complete (the manifest lists every file under the run)."""
        files = [key[len(self.prefix) + 1 :] for key in self.storage.list_keys(self.prefix)]
        manifest: dict[str, Any] = {"producer": "train", "ds": self.ds.isoformat()}
        manifest.update(summary, method=self.method)
        manifest["files"] = sorted(f for f in files if "/_" not in f"/{f}")
        self.storage.write_json(f"{self.prefix}/{partitions.MANIFEST}", manifest)

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
        sha256 = hashlib.sha256(weights).hexdigest()
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
            "model_sha256": sha256,
            "optimizer_param_groups": optimizer_state["param_groups"],
            "scheduler": scheduler.state_dict(),
            "metrics": state.metrics,
        }
        metrics = "".join(json.dumps(line) + "\n" for line in state.metrics).encode()
        partitions.publish_files(
            self.storage,
            self.checkpoint_key(state.step),
            {MODEL_FILE: weights, TRAINER_FILE: save_tensors(tensors), STATE_FILE: document},
            {"producer": "train", "step": state.step, "model_sha256": sha256},
        )
        self.storage.write_bytes(f"{self.prefix}/metrics.jsonl", metrics)

    def policy_config(self) -> PolicyConfig:
        """The policy shape the run trains (from its spec)."""
        spec = self.read_spec()
        if spec is None:
            raise FileNotFoundError(f"{self.storage.uri(self.prefix)} has no training run")
        return policy_config_from_json(spec["policy"])

    def checkpoint_info(self, step: int) -> dict[str, Any]:
        """Step, epoch, weights digest and training loss of a checkpoint (the training loop
        logs a progress line at every checkpoint step)."""
        document = self._state_document(step)
        last = document["metrics"][-1] if document["metrics"] else {}
        return {
            "step": step,
            "epoch": last.get("epoch"),
            "model_sha256": document["model_sha256"],
            "train_loss": last.get("loss"),
        }

    def load_policy(self, step: int) -> Policy:
        """The policy of checkpoint ``step`` in eval mode, after checking its weights."""
        document = self._state_document(step)
        policy = Policy(policy_config_from_json(document["policy"]))
        policy.load_state_dict(self._verified_weights(step, document), strict=True)
        return policy.eval()

    def load(self, step: int, policy: Policy, average: torch.nn.Module | None = None) -> Checkpoint:
        """Load checkpoint ``step`` into ``policy`` (and its moving average into ``average``, which
        a checkpoint saved with one needs); the rest to restore optimizer and scheduler."""
        document = self._state_document(step)
        uri = self.storage.uri(self.checkpoint_key(step))
        if policy_config_from_json(document["policy"]) != policy.config:
            raise ValueError(f"{uri}: other policy shape")
        published = self._verified_weights(step, document)
        tensors = load_tensors(
            self.storage.read_bytes(f"{self.checkpoint_key(step)}/{TRAINER_FILE}")
        )
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
            raise ValueError(
                f"{uri} was saved {'with' if trained else 'without'} a weight average: resume "
                f"it with the train.ema_decay it was trained with, or --restart"
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
        key = self.checkpoint_key(step)
        partitions.read_manifest(self.storage, key)  # raises unless committed
        document: dict[str, Any] = self.storage.read_json(f"{key}/{STATE_FILE}")
        return document

    def _verified_weights(self, step: int, document: dict[str, Any]) -> dict[str, torch.Tensor]:
        key = f"{self.checkpoint_key(step)}/{MODEL_FILE}"
        weights = self.storage.read_bytes(key)
        actual = hashlib.sha256(weights).hexdigest()
        if actual != document["model_sha256"]:
            raise ArtifactIntegrityError(
                f"{self.storage.uri(key)}: sha256 {actual} != recorded "
                f"{document['model_sha256']}; refusing to load"
            )
        return load_tensors(weights)


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
        raise ValueError(
            f"the policy was saved in model format {saved} and this version reads format "
            f"{POLICY_FORMAT}: train it again (`adagrpo train --restart`)"
        )
    return PolicyConfig(**{**fields, "vocab_sizes": tuple(fields["vocab_sizes"])})
