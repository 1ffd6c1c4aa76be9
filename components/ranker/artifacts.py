"""The published ranker: safetensors weights and a JSON config that carries their sha256.

Nothing is unpickled: the weights are safetensors and everything else is JSON. Loading
refuses weights whose sha256 differs from the config's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from components.core import partitions
from components.core.errors import BadInput
from components.core.layout import MODELS_RANKER, partition
from components.core.partitions import ArtifactIntegrityError
from components.core.storage import Storage
from components.ranker.encoding import FeatureEncoder
from components.ranker.model import ClickModel, ModelShape

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LoadedRanker:
    model: ClickModel
    encoder: FeatureEncoder
    config: dict[str, Any]


def ranker_partition(ds: date) -> str:
    return partition(MODELS_RANKER, ds)


def serialize_weights(model: ClickModel) -> tuple[bytes, str]:
    """The model's safetensors bytes and their sha256."""
    weights = save_tensors({name: t.contiguous() for name, t in model.state_dict().items()})
    return weights, hashlib.sha256(weights).hexdigest()


def publish_ranker(
    storage: Storage,
    ds: date,
    model: ClickModel,
    encoder: FeatureEncoder,
    extra_config: dict[str, Any],
    reports: dict[str, dict[str, Any] | bytes],
) -> None:
    """Publish the model of ``ds`` with ``reports`` (metrics, HTML) next to it."""
    weights, sha256 = serialize_weights(model)
    config = {
        "format_version": FORMAT_VERSION,
        "weights": WEIGHTS,
        "weights_sha256": sha256,
        "shape": model.shape.to_json(),
        "encoder": encoder.to_json(),
        **extra_config,
    }
    partitions.publish_files(
        storage,
        ranker_partition(ds),
        {WEIGHTS: weights, CONFIG: config, **reports},
        {"producer": "ranker", "ds": ds.isoformat(), "weights_sha256": sha256},
    )


def load_ranker(storage: Storage, ds: date) -> LoadedRanker:
    """The committed ranker of ``ds`` in eval mode, after checking its weights' sha256."""
    target = ranker_partition(ds)
    partitions.read_manifest(storage, target)  # raises unless committed
    config: dict[str, Any] = storage.read_json(f"{target}/{CONFIG}")
    if config.get("format_version") != FORMAT_VERSION:
        raise BadInput(f"{target}: unknown ranker format {config.get('format_version')!r}")
    weights = storage.read_bytes(f"{target}/{config['weights']}")
    actual = hashlib.sha256(weights).hexdigest()
    if actual != config["weights_sha256"]:
        raise ArtifactIntegrityError(
            f"{storage.uri(target)}: weights sha256 {actual} != recorded "
            f"{config['weights_sha256']}; refusing to load"
        )
    model = ClickModel(ModelShape(**config["shape"]))
    model.load_state_dict(load_tensors(weights), strict=True)
    return LoadedRanker(model.eval(), FeatureEncoder.from_json(config["encoder"]), config)
