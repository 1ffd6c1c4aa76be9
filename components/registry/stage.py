"""The register stage: the day's blessed candidate becomes an immutable registry version.

The version holds the weights (safetensors), the policy's shape, the catalog of SIDs it speaks
(the SID map of its codebook version, with what was listed), its metrics, a model card, and in
its manifest the sha256 of every file and where the model came from: the day and data window,
the training method and its spec, the checkpoint it started from, the ranker it was rewarded
by, the code version and the image digest. With no champion yet it becomes the champion;
otherwise the challenger, and an A/B experiment against the champion starts
(``experiments.py``). Registering a day again registers nothing new and moves no alias: the
version is keyed by the day, the codebook version and the weights' sha256, and the day's
published outcome (``promotion/registration/dt=D/registration.json``) stays as the first
registration wrote it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

from components.abtest.planning import plan_users
from components.core import layout, partitions
from components.core.config import PipelineConfig
from components.core.errors import BadInput
from components.core.storage import Storage, open_storage
from components.datasets.reader import open_dataset
from components.registry.artifacts import CARD, CATALOG, METRICS, POLICY, WEIGHTS
from components.registry.card import model_card
from components.registry.experiments import start_experiment
from components.registry.store import ModelRegistry, candidate_identity
from components.trainer.checkpoints import MODEL_FILE, PolicyRun, policy_config_json

log = logging.getLogger(__name__)

IMAGE_DIGEST_ENV = "ADAGRPO_IMAGE_DIGEST"  # set by the images (docker/): the digest they run


def register_candidate(config: PipelineConfig, ds: date) -> dict[str, Any]:
    """Register the day's blessed candidate; the published outcome."""
    storage = open_storage(config.storage)
    blessing = layout.partition(layout.BLESSING, ds)
    partitions.read_manifest(storage, blessing)  # names `adagrpo bless` when missing
    decision = storage.read_json(f"{blessing}/{layout.BLESSING_FILE}")
    outcome: dict[str, Any] = {"ds": ds.isoformat(), "blessed": decision["blessed"]}
    if decision["blessed"]:
        registry = ModelRegistry.open(config.registry)
        sid_version = open_dataset(storage, ds).sid_version
        identity = candidate_identity(ds, sid_version, decision["candidate"]["model_sha256"])
        if (earlier := _registered_earlier(storage, registry, identity, ds)) is not None:
            log.info("register %s: already version %d, nothing to do", ds, earlier["version"])
            return earlier
        files, metadata = _package(storage, ds, decision)
        version, created = registry.register(identity, files, metadata)
        outcome.update(version=version.number, created=created, registry=registry.storage.uri(""))
        reason = f"blessed on {ds}"
        outcome["alias"] = _put_up(registry, version.number, "adagrpo register", reason)
        aliases = registry.aliases()
        if aliases["challenger"] == version.number and aliases["champion"] is not None:
            planned = plan_users(storage, ds, config.ab_test)
            spec = start_experiment(
                registry, aliases["champion"], version.number, ds, config.ab_test, planned
            )
            outcome["experiment"] = spec["id"]
    else:
        outcome["reasons"] = decision["reasons"]
    log.info("register %s: %s", ds, outcome)
    documents = {"registration.json": outcome}
    partitions.publish_day(storage, layout.REGISTRATION, ds, "register", documents)
    return outcome


def put_up_run(
    config: PipelineConfig, ds: date, key: str, step: int | None, actor: str, reason: str
) -> dict[str, Any]:
    """Register checkpoint ``step`` (default: its best on validation) of the evaluated run
    ``key`` of ``ds`` without the daily blessing, and put it up as the day's registration
    would: the champion when there is none, else the challenger of an A/B experiment against
    the champion. For what the blessing cannot judge offline (an online claim); the reason
    goes to the alias's audit log and the version's record. The outcome."""
    storage = open_storage(config.storage)
    run = PolicyRun(storage, ds, key)
    summary = storage.read_json(run.evaluation_summary)  # the evaluated checkpoints
    step = summary["best"]["step"] if step is None else step
    entry = next((c for c in summary["checkpoints"] if c["step"] == step), None)
    if entry is None:
        steps = [c["step"] for c in summary["checkpoints"]]
        raise BadInput(f"{key} has no evaluated checkpoint {step}; it has {steps}")
    if "test" not in entry:
        raise BadInput(
            f"{key} step {step} was not scored on test (evaluate scores the checkpoint it chose "
            f"on validation): run `adagrpo evaluate --ds {ds} --run {key} --set "
            "evaluate.test_checkpoints=all` to score every one"
        )
    metric, k = config.promotion.metric, config.promotion.k
    test = entry["test"]
    candidate = {
        "run": key,
        "step": step,
        "model_sha256": entry["model_sha256"],
        "valid_metric": entry["valid"]["constrained"][metric],
        "test": {
            f"hr@{k}": test["constrained"][f"hr@{k}"],
            metric: test["constrained"][metric],
            "hallucination_rate": test["unconstrained"]["hallucination_rate"],
            "users": summary["users"]["test"],
        },
    }
    decision = {"ds": ds.isoformat(), "candidate": candidate, "blessed": False,
                "champion": None, "comparison": None,
                "reasons": [f"put up by {actor} without the blessing: {reason}"]}  # fmt: skip
    registry = ModelRegistry.open(config.registry)
    sid_version = open_dataset(storage, ds).sid_version
    files, metadata = _package(storage, ds, decision)
    version, created = registry.register(
        candidate_identity(ds, sid_version, entry["model_sha256"]), files, metadata
    )
    outcome: dict[str, Any] = {"version": version.number, "created": created, "run": key,
                               "step": step}  # fmt: skip
    outcome["alias"] = _put_up(registry, version.number, actor, reason)
    aliases = registry.aliases()
    if aliases["challenger"] == version.number and aliases["champion"] is not None:
        planned = plan_users(storage, ds, config.ab_test)
        spec = start_experiment(
            registry, aliases["champion"], version.number, ds, config.ab_test, planned
        )
        outcome["experiment"] = spec["id"]
    return outcome


def _registered_earlier(
    storage: Storage, registry: ModelRegistry, identity: str, ds: date
) -> dict[str, Any] | None:
    """The day's published outcome when it registered this very candidate (a rerun)."""
    known = registry.find(identity)
    key = layout.partition(layout.REGISTRATION, ds)
    if known is None or not partitions.is_published(storage, key):
        return None
    outcome: dict[str, Any] = storage.read_json(f"{key}/registration.json")
    return outcome if outcome.get("version") == known.number else None


def _package(
    storage: Storage, ds: date, decision: dict[str, Any]
) -> tuple[dict[str, bytes | dict[str, Any]], dict[str, Any]]:
    """The version's files and manifest fields, from the blessed checkpoint and its run."""
    candidate = decision["candidate"]
    run = PolicyRun(storage, ds, candidate["run"])
    checkpoint = run.checkpoint_key(candidate["step"])
    manifest = partitions.read_manifest(storage, checkpoint)
    weights = partitions.read_verified(storage, checkpoint, MODEL_FILE, manifest)
    if manifest["sha256"][MODEL_FILE] != candidate["model_sha256"]:
        raise BadInput(
            f"{run.key} step {candidate['step']} was retrained after it was blessed: run "
            f"`adagrpo select --ds {ds}` and `adagrpo bless --ds {ds}` again"
        )
    dataset = open_dataset(storage, ds)
    spec = run.read_spec() or {}
    metadata = {
        "ds": ds.isoformat(),
        "run": run.key,
        "step": candidate["step"],
        "method": spec["train"]["method"],
        "spec": {k: spec.get(k) for k in ("train", "rl", "init", "ranker")},
        "weights_sha256": candidate["model_sha256"],
        "sid_version": dataset.sid_version,
        "data_window": {
            "history_days": [dataset.manifest["history_days"][0], ds.isoformat()],
            "split": dataset.manifest["split"],
            "examples": dataset.manifest["examples"],
        },
        "metrics": {"valid": candidate["valid_metric"], "test": candidate["test"]},
        "blessing": {k: decision.get(k) for k in ("reasons", "comparison", "champion")},
        "code_version": _code_version(),
        "image_digest": os.environ.get(IMAGE_DIGEST_ENV),
    }
    catalog = layout.partition(layout.DATASETS, ds)
    files: dict[str, bytes | dict[str, Any]] = {
        WEIGHTS: weights,
        POLICY: policy_config_json(run.policy_config()),
        CATALOG: storage.read_bytes(f"{catalog}/{layout.DATASET_CATALOG}"),
        METRICS: {"selection": candidate, "blessing": decision},
        CARD: model_card(metadata).encode(),
    }
    return files, metadata


def _put_up(registry: ModelRegistry, number: int, actor: str, reason: str) -> dict[str, Any] | None:
    """Make the version the champion when there is none, else the challenger; nothing when an
    alias already points at it (a rerun). The audit line, or None."""
    aliases = registry.aliases()
    if number in aliases.values():
        return None
    alias = "challenger" if aliases["champion"] is not None else "champion"
    reason += "" if alias == "challenger" else ", the first champion"
    return registry.set_alias(alias, number, actor=actor, reason=reason)


def _code_version() -> str | None:
    """The git commit of the code, when it runs from a checkout."""
    repository = Path(__file__).resolve().parents[2]
    try:
        found = subprocess.run(
            ["git", "-C", str(repository), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None
