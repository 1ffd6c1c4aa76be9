"""The files of a registered model, and the servable model they load into (every file verified
against the version's manifest first)."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
from safetensors.torch import load as load_tensors

from components.policy.model import Policy
from components.policy.servable import ServableModel
from components.registry.store import ModelRegistry
from components.trainer.checkpoints import policy_config_from_json

WEIGHTS = "model.safetensors"
POLICY = "policy.json"  # the policy's shape and vocabularies, with the model format
CATALOG = "catalog_sids.parquet"  # item_id, sid, listed: the SID map of its codebook version
METRICS = "metrics.json"
CARD = "model_card.md"


def load_servable(registry: ModelRegistry, number: int) -> ServableModel:
    """Version ``number`` as a servable model, refused if any of its files is not intact."""
    version = registry.verified(number)
    policy = Policy(policy_config_from_json(json.loads(registry.read_file(number, POLICY))))
    policy.load_state_dict(load_tensors(registry.read_file(number, WEIGHTS)), strict=True)
    catalog = pq.read_table(io.BytesIO(registry.read_file(number, CATALOG)))
    return ServableModel(policy.eval(), catalog, int(version.manifest["sid_version"]))
